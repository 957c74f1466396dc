"""Fake claimant identities (PII stand-ins) for generated claims."""

from __future__ import annotations

import random

FIRST_NAMES = (
    "Alex",
    "Sam",
    "Jordan",
    "Maria",
    "Ahmed",
    "Chen",
    "Priya",
    "Olga",
    "Tom",
    "Fatima",
    "Lucas",
    "Aisha",
    "Noah",
    "Emma",
    "Liam",
    "Sofia",
    "Mateo",
    "Yuki",
    "Kwame",
    "Ines",
    "Hannah",
    "Omar",
    "Grace",
    "Ivan",
)
LAST_NAMES = (
    "Smith",
    "Garcia",
    "Nguyen",
    "Khan",
    "Müller",
    "Rossi",
    "Okafor",
    "Kowalski",
    "Brown",
    "Silva",
    "Cohen",
    "Dubois",
    "Tanaka",
    "O'Brien",
    "Patel",
    "Jensen",
    "Novak",
    "Haddad",
    "Murphy",
    "Lopez",
    "Fischer",
)
DOMAINS = ("example.com", "mail.example.org", "inbox.example.net")


def claimant_identity(rng: random.Random) -> tuple[str, str]:
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    if rng.random() < 0.6:
        handle = f"{first}.{last}".lower().replace("'", "").replace("ü", "u")
        return f"{first} {last}", f"{handle}{rng.randrange(100)}@{rng.choice(DOMAINS)}"
    return f"{first} {last}", f"+1-555-{rng.randrange(1000, 10000)}"
