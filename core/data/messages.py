"""Claimant messages with a sentiment label driven by a latent satisfaction.

Satisfaction starts from a claimant's temperament and falls with waiting (late reports,
messages sent weeks after the claim, storm backlogs) and with fraud claimants' pressure;
it is then cut into negative / neutral / positive. The text is composed so that a bag of
words cannot read the label off alone:

- plain messages of varied intensity and register;
- contrast messages ("I expected X, but Y"): both halves carry opposite sentiment words,
  and only the clause after the turn decides the label (about a quarter of messages);
- sarcasm: positive words with a negative meaning (a small share);
- neutral admin messages that mention emotionally loaded topics (delays, payments).
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta

import pandas as pd

SENTIMENT_THRESHOLDS = (-0.8, 0.3)  # satisfaction below the first: negative; above the second: positive
MESSAGE_COUNT_WEIGHTS = (0.2, 0.35, 0.28, 0.17)  # P(0, 1, 2, 3 messages per claim)
CONTRAST_SHARE = 0.40
SARCASM_SHARE = 0.07

POSITIVE: tuple[str, ...] = (
    "Thank you so much for sorting this out so quickly.",
    "Really appreciate how helpful your team has been.",
    "The payment arrived today, thanks, that's a big relief.",
    "Great service from start to finish, I'll be recommending you.",
    "Cheers for the update, the repairer you sent was excellent.",
    "Just wanted to say thanks to Sam on the phone, very kind and patient.",
    "Honestly impressed, everything was handled smoothly.",
    "Thanks, all good now, really happy with how it went.",
    "Very pleased with the outcome, thank you.",
)
NEGATIVE: tuple[str, ...] = (
    "This is the third time I've called and still nobody can tell me anything.",
    "I am extremely unhappy with how long this is taking.",
    "Your service is a joke, I want to make a formal complaint.",
    "Still no payment after six weeks. Absolutely unacceptable.",
    "Nobody returns my calls. I'm going to the ombudsman.",
    "Why do I keep having to send the same documents? Ridiculous.",
    "Really disappointed, I've paid premiums for years and this is how I'm treated.",
    "The repairer did a terrible job and now it's worse than before.",
    "I'm fed up of waiting, sort it out.",
)
NEUTRAL: tuple[str, ...] = (
    "Please find attached the invoice you asked for.",
    "Can you confirm which documents you still need from me?",
    "My new phone number is on the form, please use that from now on.",
    "What is the current status of the claim?",
    "I'll be away next week, my partner can take calls about the claim.",
    "Is the payment made to the account ending in 42?",
    "Could you send me a copy of the claim reference?",
    "Following up on the delay notice, when is the assessor visiting?",
    "I have uploaded the photos of the damage to the portal.",
    "Do I need to get a second quote for the repair?",
    "No complaints so far, just checking whether the assessor has been booked.",
    "Not angry, just need to know when the payment is due.",
    "The repairer said it was great that you called; do they need anything else?",
    "Thanks for the letter. Is there a reference for the delay?",
)
# Contrast clauses share their subjects and tails across polarity, so that only the
# order of the clauses and the connective (not any word or word pair) decides the label.
CONTRAST_SUBJECTS: tuple[str, ...] = ("the adjuster", "the payment", "your team", "the repair", "the whole process")
CONTRAST_GOOD: tuple[str, ...] = (
    "was brilliant",
    "went smoothly",
    "was quick and fair",
    "was really helpful",
    "was great",
)
CONTRAST_BAD: tuple[str, ...] = (
    "was a mess",
    "was painfully slow",
    "was rude and unhelpful",
    "was awful",
    "was a letdown",
)
CONTRAST_TAILS: tuple[str, ...] = ("to be honest", "in the end", "so far", "this time", "overall", "if I'm honest")
# (template, which clause decides the label)
CONTRAST_TURNS: tuple[tuple[str, str], ...] = (
    ("{a} {ta}, but {b} {tb}.", "b"),
    ("Although {a} {ta}, {b} {tb}.", "b"),
    ("{a} {ta}, even though {b} {tb}.", "a"),
    ("{a} {ta} - despite the fact that {b} {tb}.", "a"),
    ("I know {a} {ta}. Still, {b} {tb}.", "b"),
)
SARCASM: tuple[str, ...] = (
    "Oh wonderful, another letter asking for the same documents. Really impressive work.",
    "Great, six weeks and still waiting. Fantastic service as always.",
    "Thanks so much for losing my paperwork again, brilliant.",
    "Love being put on hold for an hour, really great customer care.",
    "Perfect, the payment is 'processing' for the fourth week. Amazing.",
)
SIGN_OFFS: tuple[str, ...] = ("", "", " Regards.", " Thanks.", " - sent from my phone", " Kind regards, J.")
CHANNELS: tuple[str, ...] = ("email", "portal", "sms", "chat")


def generate_messages(claims: pd.DataFrame, signals: pd.DataFrame, rng: random.Random) -> pd.DataFrame:
    """Messages for each claim (the claim frame's row order), with their true sentiment."""
    rows = []
    delays, streams = signals["delay"].tolist(), signals["stream"].tolist()
    components, numbers = signals["component"].tolist(), claims["claim_number"].tolist()
    report_dates = claims["report_date"].tolist()
    for i in range(len(claims)):
        count = rng.choices(range(len(MESSAGE_COUNT_WEIGHTS)), MESSAGE_COUNT_WEIGHTS)[0]
        temperament = rng.gauss(0.0, 1.0)
        stress = 0.35 * delays[i] + (0.4 if streams[i] == "storm" else 0.0)
        stress += 0.3 if components[i] > 0 else 0.0
        report = report_dates[i]
        offset = 0.0
        for _ in range(count):
            offset += rng.uniform(0.5, 20.0)
            satisfaction = temperament - stress - 0.02 * offset + rng.gauss(0.0, 0.6)
            sentiment = label_for(satisfaction)
            rows.append(
                {
                    "claim_number": numbers[i],
                    "sent_at": datetime.combine(report, datetime.min.time()) + timedelta(days=offset),
                    "channel": rng.choice(CHANNELS),
                    "direction": "inbound",
                    "text": render_message(sentiment, rng),
                    "label_sentiment": sentiment,
                }
            )
    return pd.DataFrame(rows, columns=["claim_number", "sent_at", "channel", "direction", "text", "label_sentiment"])


def label_for(satisfaction: float) -> str:
    low, high = SENTIMENT_THRESHOLDS
    return "negative" if satisfaction < low else "positive" if satisfaction > high else "neutral"


def render_message(sentiment: str, rng: random.Random) -> str:
    roll = rng.random()
    if sentiment != "neutral" and roll < CONTRAST_SHARE:
        text = _contrast(sentiment, rng)
    elif sentiment == "negative" and roll < CONTRAST_SHARE + SARCASM_SHARE:
        text = rng.choice(SARCASM)
    else:
        pool = {"positive": POSITIVE, "negative": NEGATIVE, "neutral": NEUTRAL}[sentiment]
        parts = rng.sample(pool, k=rng.choice((1, 1, 2)))
        text = " ".join(parts)
    text += rng.choice(SIGN_OFFS)
    return text.lower() if rng.random() < 0.1 else text


def _contrast(sentiment: str, rng: random.Random) -> str:
    template, deciding = rng.choice(CONTRAST_TURNS)
    wanted = CONTRAST_GOOD if sentiment == "positive" else CONTRAST_BAD
    other = CONTRAST_BAD if sentiment == "positive" else CONTRAST_GOOD
    deciding_clause = f"{rng.choice(CONTRAST_SUBJECTS)} {rng.choice(wanted)}"
    other_clause = f"{rng.choice(CONTRAST_SUBJECTS)} {rng.choice(other)}"
    a, b = (deciding_clause, other_clause) if deciding == "a" else (other_clause, deciding_clause)
    text = template.format(a=a, b=b, ta=rng.choice(CONTRAST_TAILS), tb=rng.choice(CONTRAST_TAILS))
    return text[:1].upper() + text[1:]
