"""The append-only audit log: who did what to which entity, and when.

Rows are only ever inserted here; no code path updates or deletes them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from db.models import AuditLog

if TYPE_CHECKING:
    from core.auth import Actor


def record(
    session: Session,
    *,
    actor: Actor,
    action: str,
    entity_type: str,
    entity_id: int | str | None = None,
    details: dict[str, Any] | None = None,
) -> AuditLog:
    entry = AuditLog(
        actor=actor.username,
        actor_role=actor.role.value,
        action=action,
        entity_type=entity_type,
        entity_id=None if entity_id is None else str(entity_id),
        details=details or {},
    )
    session.add(entry)
    return entry
