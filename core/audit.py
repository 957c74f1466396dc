"""The append-only audit log: who did what to which entity, and when; and how it reads to
compliance (the entity by its name, the details as text, the decision note) and in CSV.

Rows are only ever inserted here; no code path updates or deletes them.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import ColumnElement, String, and_, cast, or_, select
from sqlalchemy.orm import Session

from core import exports
from core.auth import Actor, Permission, require
from core.clock import day_after, day_start
from core.credentials import normalise_username
from db.models import AuditLog, Claim, ModelVersion, Review, User

ANONYMOUS_ROLE = "anonymous"


def record(
    session: Session,
    *,
    actor: Actor | None,
    action: str,
    entity_type: str,
    entity_id: int | str | None = None,
    details: dict[str, Any] | None = None,
    anonymous_name: str | None = None,
) -> AuditLog:
    """Append one row. `actor=None` is someone not signed in (a failed login), named by
    `anonymous_name`, the username they typed."""
    entry = AuditLog(
        actor=actor.username if actor else (anonymous_name or "unknown")[:128],
        actor_role=actor.role.value if actor else ANONYMOUS_ROLE,
        action=action,
        entity_type=entity_type,
        entity_id=None if entity_id is None else str(entity_id),
        details=details or {},
    )
    session.add(entry)
    return entry


@dataclass(frozen=True)
class AuditFilters:
    actor: str = ""
    action: str = ""
    entity_type: str = ""
    entity_id: str = ""
    since: date | None = None
    until: date | None = None


@dataclass(frozen=True)
class AuditRow:
    id: int
    at: datetime
    actor: str
    actor_role: str
    action: str
    entity_type: str
    entity_id: str | None
    details: dict[str, Any]
    entity: str = ""  # how people name it: a claim number, a username, "claim_risk v2"
    note: str | None = None  # the note typed with the action (a decision's note, an acknowledgement's)

    @property
    def summary(self) -> str:
        """The details as one line of text, without what the entity and note columns show."""
        shown = {"note"} | ({"claim_number", "username"} if self.entity else set())
        return describe({k: v for k, v in self.details.items() if k not in shown})


MAX_AUDIT_ROWS = 10_000


def search(
    session: Session, *, actor: Actor, filters: AuditFilters | None = None, limit: int = 500, recorded: bool = False
) -> list[AuditRow]:
    """Audit rows, newest first, filtered by exact actor/action/entity and date range.
    `recorded`: this is a search someone asked for (not a redraw of the same one), so the
    search itself goes into the log: who looked into whom is audit data too."""
    require(actor, Permission.VIEW_AUDIT)
    filters = filters or AuditFilters()
    query = select(AuditLog).order_by(AuditLog.at.desc(), AuditLog.id.desc())
    for column, value in (
        (AuditLog.actor, filters.actor),
        (AuditLog.action, filters.action),
        (AuditLog.entity_type, filters.entity_type),
    ):
        if value.strip():
            query = query.where(column == value.strip())
    if filters.entity_id.strip():
        query = query.where(_names_entity(filters.entity_id.strip()))
    if filters.since:
        query = query.where(AuditLog.at >= day_start(filters.since))
    if filters.until:
        query = query.where(AuditLog.at < day_after(filters.until))
    query = query.limit(min(max(limit, 1), MAX_AUDIT_ROWS))
    entries = list(session.scalars(query))
    names = _entity_names(session, entries)
    notes = _decision_notes(session, entries)
    if recorded:
        record(session, actor=actor, action="audit.searched", entity_type="audit_log",
               details={"filters": _described(filters), "rows": len(entries)})  # fmt: skip
    return [_row(e, names.get((e.entity_type, e.entity_id or ""), ""), notes.get(e.id)) for e in entries]


def record_export(session: Session, *, actor: Actor, filters: AuditFilters, rows: int) -> None:
    """Log that the rows under `filters` left the application as a file."""
    require(actor, Permission.VIEW_AUDIT)
    record(session, actor=actor, action="audit.exported", entity_type="audit_log",
           details={"filters": _described(filters), "rows": rows})  # fmt: skip


def _described(filters: AuditFilters) -> dict[str, str]:
    """The filters that are set, as text."""
    values = {name: getattr(filters, name) for name in filters.__dataclass_fields__}
    return {
        name: value.isoformat() if isinstance(value, date) else str(value) for name, value in values.items() if value
    }


def _row(entry: AuditLog, entity: str, decision_note: str | None) -> AuditRow:
    details = dict(entry.details or {})
    typed = details.get("note")
    return AuditRow(
        id=entry.id,
        at=entry.at,
        actor=entry.actor,
        actor_role=entry.actor_role,
        action=entry.action,
        entity_type=entry.entity_type,
        entity_id=entry.entity_id,
        details=details,
        entity=entity,
        note=decision_note or (typed if isinstance(typed, str) and typed else None),
    )


def _names_entity(value: str) -> ColumnElement[bool]:
    """An entry's entity is `value`: its internal id, or the claim number or username people know it by."""
    claims = select(cast(Claim.id, String)).where(Claim.claim_number == value)
    users = select(cast(User.id, String)).where(User.username == normalise_username(value))
    return or_(
        AuditLog.entity_id == value,
        and_(AuditLog.entity_type == "claim", AuditLog.entity_id.in_(claims)),
        and_(AuditLog.entity_type == "user", AuditLog.entity_id.in_(users)),
    )


ID_CHUNK = 1000  # ids per IN list: far below every backend's limit on bound parameters


def _ids(entries: list[AuditLog], entity_type: str) -> list[int]:
    found = {
        int(e.entity_id) for e in entries if e.entity_type == entity_type and e.entity_id and e.entity_id.isdigit()
    }
    return sorted(found)


def _chunks(ids: list[int]) -> list[list[int]]:
    return [ids[i : i + ID_CHUNK] for i in range(0, len(ids), ID_CHUNK)]


def _entity_names(session: Session, entries: list[AuditLog]) -> dict[tuple[str, str], str]:
    """(entity type, entity id) -> the name people know it by, for claims, users and model versions."""
    names: dict[tuple[str, str], str] = {}
    for e in entries:  # a deleted claim still has the number it was logged with
        if e.entity_type == "claim" and e.entity_id and (e.details or {}).get("claim_number"):
            names[("claim", e.entity_id)] = str(e.details["claim_number"])
    for chunk in _chunks(_ids(entries, "claim")):
        for claim_id, number in session.execute(select(Claim.id, Claim.claim_number).where(Claim.id.in_(chunk))):
            names[("claim", str(claim_id))] = number
    for chunk in _chunks(_ids(entries, "user")):
        for user_id, username in session.execute(select(User.id, User.username).where(User.id.in_(chunk))):
            names[("user", str(user_id))] = username
    for chunk in _chunks(_ids(entries, "model_version")):
        query = select(ModelVersion.id, ModelVersion.task, ModelVersion.version).where(ModelVersion.id.in_(chunk))
        for version_id, task, version in session.execute(query):
            names[("model_version", str(version_id))] = f"{task} v{version}"
    return names


def _decision_notes(session: Session, entries: list[AuditLog]) -> dict[int, str]:
    """Entry id -> the note of the decision it logged. A decision's entry names the claim
    version it produced, and each claim version comes from exactly one review."""
    decided: dict[tuple[int, int], int] = {}
    for e in entries:
        after = (e.details or {}).get("after")
        digits = (e.entity_id or "").isdigit()
        if e.action == "claim.decided" and digits and isinstance(after, dict) and isinstance(after.get("version"), int):
            decided[(int(e.entity_id or 0), after["version"])] = e.id
    notes: dict[int, str] = {}
    for chunk in _chunks(sorted({claim_id for claim_id, _ in decided})):
        query = select(Review.claim_id, Review.claim_version, Review.note).where(
            Review.claim_id.in_(chunk), Review.note.is_not(None)
        )
        for claim_id, version, note in session.execute(query):
            if (claim_id, version) in decided and note:
                notes[decided[(claim_id, version)]] = note
    return notes


def describe(details: dict[str, Any]) -> str:
    """Audit details as one line of text, e.g. "decision: deny; status: in_review → decided";
    a before/after pair is shown as the change of each value."""
    before, after = details.get("before"), details.get("after")
    paired = isinstance(before, dict) and isinstance(after, dict)
    parts = [f"{_words(k)}: {_text(v)}" for k, v in details.items() if not (paired and k in ("before", "after"))]
    if isinstance(before, dict) and isinstance(after, dict):
        for key in dict.fromkeys([*before, *after]):
            parts.append(f"{_words(key)}: {_text(before.get(key))} → {_text(after.get(key))}")
    return "; ".join(parts)


def _words(key: object) -> str:
    return str(key).replace("_", " ")


def _text(value: object) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:,.4f}".rstrip("0").rstrip(".")
    if isinstance(value, dict):
        return ", ".join(f"{_words(k)} {_text(v)}" for k, v in value.items()) or "none"
    if isinstance(value, list | tuple):
        items = [f"({_text(v)})" if isinstance(v, dict) else _text(v) for v in value]
        return ", ".join(items) or "none"
    return str(value)


def actions(session: Session, *, actor: Actor) -> list[str]:
    """The actions the log holds, for the audit page's filter."""
    require(actor, Permission.VIEW_AUDIT)
    return list(session.scalars(select(AuditLog.action).distinct().order_by(AuditLog.action)))


def entity_types(session: Session, *, actor: Actor) -> list[str]:
    """The kinds of entity that audit entries name, for the compliance page's filter."""
    require(actor, Permission.VIEW_AUDIT)
    return list(session.scalars(select(AuditLog.entity_type).distinct().order_by(AuditLog.entity_type)))


CSV_COLUMNS = ("id", "at", "actor", "actor_role", "action", "entity_type", "entity_id", "entity", "note", "details")


def to_csv(rows: list[AuditRow]) -> str:
    """CSV for compliance, one row per audit entry: the entity by its name beside its id,
    the note, and the details as JSON; every cell quoted and defused (`core.exports`)."""
    buffer = io.StringIO()
    exports.write_csv(buffer, CSV_COLUMNS, (_cells(r) for r in rows))
    return buffer.getvalue()


def _cells(r: AuditRow) -> list[object]:
    return [
        r.id,
        r.at.isoformat(),
        r.actor,
        r.actor_role,
        r.action,
        r.entity_type,
        r.entity_id or "",
        r.entity,
        r.note or "",
        json.dumps(r.details, sort_keys=True, default=str, ensure_ascii=False),
    ]
