"""The append-only audit log: who did what to which entity, and when.

Rows are only ever inserted here; no code path updates or deletes them.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.auth import Actor, Permission, require
from core.clock import day_after, day_start
from db.models import AuditLog

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


MAX_AUDIT_ROWS = 10_000


def search(session: Session, *, actor: Actor, filters: AuditFilters | None = None, limit: int = 500) -> list[AuditRow]:
    """Audit rows, newest first, filtered by exact actor/action/entity and date range."""
    require(actor, Permission.VIEW_AUDIT)
    filters = filters or AuditFilters()
    query = select(AuditLog).order_by(AuditLog.at.desc(), AuditLog.id.desc())
    for column, value in (
        (AuditLog.actor, filters.actor),
        (AuditLog.action, filters.action),
        (AuditLog.entity_type, filters.entity_type),
        (AuditLog.entity_id, filters.entity_id),
    ):
        if value.strip():
            query = query.where(column == value.strip())
    if filters.since:
        query = query.where(AuditLog.at >= day_start(filters.since))
    if filters.until:
        query = query.where(AuditLog.at < day_after(filters.until))
    query = query.limit(min(max(limit, 1), MAX_AUDIT_ROWS))
    return [
        AuditRow(e.id, e.at, e.actor, e.actor_role, e.action, e.entity_type, e.entity_id, dict(e.details or {}))
        for e in session.scalars(query)
    ]


def actions(session: Session) -> list[str]:
    return list(session.scalars(select(AuditLog.action).distinct().order_by(AuditLog.action)))


def entity_types(session: Session, *, actor: Actor) -> list[str]:
    """The kinds of entity that audit entries name, for the compliance page's filter."""
    require(actor, Permission.VIEW_AUDIT)
    return list(session.scalars(select(AuditLog.entity_type).distinct().order_by(AuditLog.entity_type)))


def to_csv(rows: list[AuditRow]) -> str:
    """CSV for compliance, one row per audit entry, details as JSON. Cells that a
    spreadsheet would run as a formula are prefixed with a quote."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["id", "at", "actor", "actor_role", "action", "entity_type", "entity_id", "details"])
    for r in rows:
        cells = [
            r.id,
            r.at.isoformat(),
            r.actor,
            r.actor_role,
            r.action,
            r.entity_type,
            r.entity_id or "",
            json.dumps(r.details, sort_keys=True, default=str, ensure_ascii=False),
        ]
        writer.writerow([_safe_cell(c) for c in cells])
    return buffer.getvalue()


def _safe_cell(value: object) -> object:
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value
