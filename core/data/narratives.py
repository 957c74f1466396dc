"""Claim narratives that read like FNOL descriptions and adjusters' notes.

A narrative is composed, not picked: a writing style (claimant in the first person,
call-centre summary, terse adjuster note), an incident drawn from the line of business
with its own slots, optional restated facts (time of day, police, witnesses), the
latent red flags rendered with many phrasings each, and light noise (typos, shorthand).
The flags are the only part of the text that carries fraud signal beyond the structured
fields, so the generator's oracle stays exact.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

Choices = tuple[str, ...]

INCIDENTS: dict[str, Choices] = {
    "auto": (
        "{subj} was rear-ended at a {place} while waiting at the lights",
        "{subj} reversed into a bollard in a {place} and cracked the rear bumper",
        "the {vehicle} was hit by another car that ran a red light near a {place}",
        "the {vehicle} was stolen from outside {poss} home overnight",
        "someone keyed the {vehicle} and smashed the {part} in a {place}",
        "a stone thrown up on the motorway cracked the windscreen of the {vehicle}",
        "{subj} swerved to avoid a deer and hit a fence post, damaging the {part}",
        "the {vehicle} was clipped by a van changing lanes; the {part} is damaged",
        "{subj} slid on ice and hit a lamp post near a {place}",
        "the {vehicle} was damaged in a hit and run while parked at a {place}",
        "the {vehicle} caught fire in the engine bay on the way to work",
    ),
    "property": (
        "a pipe burst under the {room} sink and water soaked the {item}",
        "a pan fire in the kitchen spread smoke through the {room}",
        "the house was broken into and the {item} was taken",
        "the washing machine leaked and ruined the {room} floor",
        "a power surge fried the {item} and the boiler controls",
        "water came through the ceiling of the {room} from the flat above",
        "the garden shed was broken into and tools and a {item} were stolen",
        "a candle tipped over and burned the {item} in the {room}",
        "subsidence cracks appeared in the {room} wall",
    ),
    "health": (
        "{subj} fell down the stairs and was treated in the emergency department for a {injury}",
        "{subj} needed emergency dental work after a {injury}",
        "{subj} had day surgery for a {injury} and physiotherapy afterwards",
        "{subj} was admitted overnight with a {injury} after a fall at work",
        "{subj} is claiming for prescriptions and specialist visits for a {injury}",
        "{subj} tore a ligament playing football and needed an MRI and {therapy}",
    ),
    "travel": (
        "the airline lost {poss} suitcase on the flight to {city}",
        "{subj} had to cancel the trip to {city} because of a family emergency",
        "{subj} fell ill in {city} and was treated at a private clinic",
        "{poss} phone and wallet were stolen at the hotel in {city}",
        "the flight to {city} was delayed by two days and {subj} paid for a hotel",
        "{poss} passport was stolen in {city} and the return flight was missed",
    ),
}
STORM_INCIDENTS: Choices = (
    "hail smashed the skylights and dented the {part2} during the storm",
    "storm winds tore tiles off the roof and rain came into the {room}",
    "a fallen tree came down on the roof during the storm",
    "flood water from the storm came into the ground floor and the {room}",
    "the storm ripped off the guttering and flooded the {room}",
    "lightning struck nearby during the storm and the {item} stopped working",
    "storm damage: roof leaking badly, water through the {room} ceiling",
)
RING_INCIDENTS: Choices = (
    "{subj} was rear-ended at low speed at a junction; the other driver admitted fault straight away",
    "a slow-speed rear-end shunt at a roundabout; the other driver was very cooperative",
    "minor rear-end collision in traffic, other party apologised and exchanged details",
)
SLOTS: dict[str, Choices] = {
    "place": ("supermarket car park", "junction", "roundabout", "petrol station", "school", "shopping centre"),
    "vehicle": ("car", "vehicle", "hatchback", "van", "SUV", "motorbike"),
    "part": ("wing mirror", "rear bumper", "passenger door", "headlight", "bonnet", "side window"),
    "part2": ("conservatory roof", "car in the drive", "garage door", "solar panels"),
    "room": ("kitchen", "bathroom", "living room", "bedroom", "hallway", "basement"),
    "item": ("laptop", "television", "sofa", "carpet", "jewellery", "bicycle", "fridge", "camera"),
    "injury": ("broken wrist", "back injury", "fractured ankle", "chipped tooth", "knee injury", "concussion"),
    "therapy": ("six sessions of physio", "a course of rehab", "follow-up scans"),
    "city": ("Lisbon", "Bangkok", "New York", "Rome", "Cancun", "Dubai", "Prague"),
}

STYLES = ("first_person", "call_centre", "adjuster_note")
OPENERS: dict[str, Choices] = {
    "first_person": ("", "Hello, ", "I want to report that ", "Reporting a claim: ", "Hi - "),
    "call_centre": ("Caller states that ", "Customer reports that ", "PH called to say ", "Insured advises "),
    "adjuster_note": ("FNOL: ", "Notes: ", "Insd reports ", "Per call: ", ""),
}
SUBJECT = {"first_person": ("I", "my"), "call_centre": ("they", "their"), "adjuster_note": ("insd", "insd's")}

TIME_PHRASES: dict[str, Choices] = {
    "night": ("It happened around {h}am.", "This was in the middle of the night, about {h}am.", "Approx {h}:00 hrs."),
    "day": ("It happened around {h12}{ampm}.", "Time of loss about {h}:00.", "This was during the day."),
    "evening": ("It was about {h12}pm.", "Happened in the evening around {h12}.", "Approx {h}:00 hrs, evening."),
}
POLICE_PHRASES: dict[str, Choices] = {
    "yes": ("Police attended and gave a reference number.", "Crime ref provided.", "Reported to the police."),
    "no": ("Police were not called.", "No police report.", "Did not report it to the police."),
    "unknown": ("Not sure if the police were informed.", "Police report status unclear.", ""),
}
WITNESS_PHRASES: dict[str, Choices] = {
    "none": ("Nobody else saw it.", "No witnesses.", "There was no one around."),
    "some": ("A neighbour saw what happened.", "Witness details taken.", "{w} witnesses at the scene."),
}

FLAG_PHRASES: dict[str, Choices] = {
    "cash_pressure": (
        "Wants the claim settled in cash as soon as possible.",
        "Asked twice whether we can pay out today rather than arrange a repair.",
        "I need the money urgently, please can you just transfer it this week.",
        "Prefers a quick cash settlement, not interested in our approved repairer.",
        "Keen for a fast payout; says they will accept a lower amount if paid now.",
        "Pushing for immediate payment, mentioned needing cash for rent.",
        "Can you pay me directly? I don't want to wait for quotes.",
        "Insistent on settlement by bank transfer before the weekend.",
    ),
    "vague": (
        "Not completely sure of the details.",
        "Can't really remember exactly when or how it happened.",
        "Something happened, it was all a bit of a blur.",
        "Details sketchy, customer unsure of the sequence of events.",
        "I think it was sometime last week, not certain.",
        "Account is vague on where exactly this took place.",
        "Couldn't say what time it was or who else was there.",
    ),
    "inconsistent": (
        "Initially said the car was parked, later said they were driving at the time.",
        "Story changed during the call: first said at home, then said away on holiday.",
        "Date given on the form differs from the date given on the phone.",
        "Earlier stated the items were new; now says they were second-hand gifts.",
        "Said nobody was with them, then mentioned a friend who was in the car.",
        "Version of events does not match the photos supplied.",
    ),
    "missing_receipts": (
        "No receipts available for the items.",
        "Lost the receipts and the original packaging.",
        "Cannot provide invoices, paid cash for everything.",
        "Receipts were apparently destroyed in the incident.",
        "Unable to supply proof of purchase.",
        "Says the paperwork was thrown away.",
    ),
    "documented": (
        "Photos attached to the claim.",
        "Repair estimate from a local garage supplied.",
        "Receipts and bank statements uploaded.",
        "Dashcam footage available on request.",
        "Medical report and invoices attached.",
        "Sent through pictures of the damage and the original invoices.",
        "Booking confirmations and airline report provided.",
    ),
    "ring_marker": (
        "Car already taken to Apex Auto Body, who were recommended by the other driver.",
        "Referred to the Meridian Wellness clinic for whiplash treatment.",
        "A claims helper from Apex Auto Body is handling things on my behalf.",
        "Suffering from whiplash, physio booked at Meridian Wellness straight away.",
        "Tow arranged by QuickTow, repairs at Apex Auto Body.",
        "Solicitor recommended by the garage has been in touch about neck pain.",
    ),
}
STORM_EXTRA: Choices = (
    "Lots of houses on the street were hit.",
    "Emergency roofer put a tarpaulin on.",
    "Council says the whole area was affected by the storm.",
    "Wind and hail were unbelievable that night.",
    "Water still coming in whenever it rains.",
)
AMOUNT_PHRASES: Choices = ("Estimated loss {amount}.", "Claiming {amount}.", "Total approx {amount}.", "")


@dataclass(frozen=True)
class NarrativeFacts:
    line: str
    stream: str
    hour: int
    police_report: str
    witnesses: int
    claimed_amount: float
    flags: dict[str, bool] = field(default_factory=dict)


def render(facts: NarrativeFacts, rng: random.Random) -> str:
    style = rng.choice(STYLES)
    subj, poss = SUBJECT[style]
    sentences = [_capitalise(rng.choice(OPENERS[style]) + _incident(facts, rng, subj, poss)) + "."]
    vague = facts.flags.get("vague", False)
    # A vague account restates few facts; a detailed one more.
    restate = 0.15 if vague else 0.45
    if rng.random() < restate:
        sentences.append(_time_phrase(facts.hour, rng))
    if facts.line in ("auto", "property") and rng.random() < restate:
        sentences.append(rng.choice(POLICE_PHRASES[facts.police_report]))
    if rng.random() < restate * 0.8:
        key = "none" if facts.witnesses == 0 else "some"
        sentences.append(rng.choice(WITNESS_PHRASES[key]).format(w=facts.witnesses))
    if facts.stream == "storm" and rng.random() < 0.6:
        sentences.append(rng.choice(STORM_EXTRA))
    flag_sentences = [rng.choice(FLAG_PHRASES[flag]) for flag, on in facts.flags.items() if on]
    sentences.extend(flag_sentences)
    if rng.random() < 0.35:
        sentences.append(rng.choice(AMOUNT_PHRASES).format(amount=_money(facts.claimed_amount, rng)))
    head, tail = sentences[:1], sentences[1:]
    rng.shuffle(tail)
    text = " ".join(s for s in head + tail if s)
    return _add_typos(text, rng, rate=rng.choice((0.0, 0.0, 0.01, 0.02)))


def _incident(facts: NarrativeFacts, rng: random.Random, subj: str, poss: str) -> str:
    if facts.flags.get("ring_marker") and facts.line == "auto" and rng.random() < 0.7:
        template = rng.choice(RING_INCIDENTS)
    elif facts.stream == "storm" and rng.random() < 0.85:
        template = rng.choice(STORM_INCIDENTS)
    else:
        template = rng.choice(INCIDENTS[facts.line])
    values = {key: rng.choice(options) for key, options in SLOTS.items()}
    return template.format(subj=subj, poss=poss, **values)


def _time_phrase(hour: int, rng: random.Random) -> str:
    part = "night" if hour < 6 else "day" if hour < 18 else "evening"
    h12 = hour % 12 or 12
    return rng.choice(TIME_PHRASES[part]).format(h=hour, h12=h12, ampm="am" if hour < 12 else "pm")


def _money(amount: float, rng: random.Random) -> str:
    styles = (f"${amount:,.0f}", f"{amount:.0f} dollars", f"${amount:,.2f}", f"${round(amount, -2):,.0f}")
    return rng.choice(styles)


def _capitalise(text: str) -> str:
    return text[:1].upper() + text[1:]


def _add_typos(text: str, rng: random.Random, rate: float) -> str:
    if rate == 0.0:
        return text
    words = text.split(" ")
    for i, word in enumerate(words):
        if len(word) > 3 and rng.random() < rate:
            j = rng.randrange(len(word) - 1)
            words[i] = word[:j] + word[j + 1] + word[j] + word[j + 2 :]
    return " ".join(words)
