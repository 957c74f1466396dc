"""The audit log's hash chain: tamper evidence on top of the append-only triggers.

The triggers stop the application's connection from rewriting history; they do not stop
a database owner who drops or disables them. So every audit row is *sealed*: its link in
`audit_chain` holds SHA-256(previous link's hash + the row's canonical content), in id
order, starting from `GENESIS`. `verify` recomputes the chain and names the first row
that was changed, deleted or slipped in since it was sealed. `checkpoint` writes the
latest link (row id, hash, row count, time), signed with HMAC-SHA256, for an auditor to
keep elsewhere: a database restored or rewritten wholesale, chain included, no longer
matches the checkpoint they hold.

Rows are sealed by the worker between jobs and by `claimlens audit verify`, so a row
written a moment ago may not be sealed yet: `verify` says up to which row it holds.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.auth import Actor, Permission, require
from core.clock import now
from core.errors import InvalidInput
from db.models import AuditChainLink, AuditLog

GENESIS = "0" * 64
SEAL_BATCH = 1_000


@dataclass(frozen=True)
class ChainCheck:
    """What `verify` found: the chain holds up to `verified_up_to` (None: nothing sealed
    yet), or breaks at `broken_at` for `reason`."""

    checked: int
    verified_up_to: int | None
    broken_at: int | None
    reason: str | None
    unsealed: int
    at: datetime

    @property
    def ok(self) -> bool:
        return self.broken_at is None

    def summary(self) -> str:
        when = self.at.strftime("%Y-%m-%d %H:%M UTC")
        if not self.ok:
            return f"chain broken at row {self.broken_at}: {self.reason} (checked at {when})"
        if self.verified_up_to is None:
            return f"no row sealed yet ({self.unsealed:,} waiting; checked at {when})"
        waiting = f"; {self.unsealed:,} newer row(s) not sealed yet" if self.unsealed else ""
        return f"chain verified up to row {self.verified_up_to} ({self.checked:,} rows) at {when}{waiting}"


def canonical(entry: AuditLog) -> bytes:
    """The row's content as hashed: every column, in a fixed form whatever the backend."""
    at = entry.at if entry.at.tzinfo else entry.at.replace(tzinfo=UTC)
    content = {
        "id": entry.id, "at": at.astimezone(UTC).isoformat(timespec="microseconds"), "actor": entry.actor,
        "actor_role": entry.actor_role, "action": entry.action, "entity_type": entry.entity_type,
        "entity_id": entry.entity_id, "details": entry.details or {},
    }  # fmt: skip
    return json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str).encode()


def link(previous: str, entry: AuditLog) -> str:
    return hashlib.sha256(previous.encode() + canonical(entry)).hexdigest()


def seal(session: Session) -> int:
    """Seal the rows written since the last seal; how many. Two sealers racing: the one
    that inserts second fails on the primary key and seals nothing (the caller rolls back)."""
    last = session.execute(select(AuditChainLink).order_by(AuditChainLink.audit_id.desc()).limit(1)).scalar()
    previous, after = (last.hash, last.audit_id) if last else (GENESIS, 0)
    sealed = 0
    while True:
        rows = list(
            session.scalars(select(AuditLog).where(AuditLog.id > after).order_by(AuditLog.id).limit(SEAL_BATCH))
        )
        if not rows:
            return sealed
        moment = now()
        for entry in rows:
            previous = link(previous, entry)
            session.add(AuditChainLink(audit_id=entry.id, hash=previous, sealed_at=moment))
        try:
            session.flush()
        except IntegrityError:
            raise InvalidInput("another process is sealing the audit log; try again in a moment") from None
        sealed, after = sealed + len(rows), rows[-1].id


def verify(session: Session, *, actor: Actor) -> ChainCheck:
    """Recompute the chain over every sealed row and compare."""
    require(actor, Permission.VIEW_AUDIT)
    previous, checked, after = GENESIS, 0, 0
    while True:
        batch = session.execute(
            select(AuditChainLink, AuditLog)
            .outerjoin(AuditLog, AuditLog.id == AuditChainLink.audit_id)
            .where(AuditChainLink.audit_id > after)
            .order_by(AuditChainLink.audit_id)
            .limit(SEAL_BATCH)
        ).all()
        if not batch:
            break
        slipped_in = _rows_between(session, after, batch[-1][0].audit_id, [c.audit_id for c, _ in batch])
        for sealed, entry in batch:
            if slipped_in and slipped_in[0] < sealed.audit_id:
                return _broken(session, checked, after, slipped_in[0], "a row was added inside the sealed range")
            if entry is None:
                return _broken(session, checked, after, sealed.audit_id, "the row was deleted")
            previous = link(previous, entry)
            if not hmac.compare_digest(previous, sealed.hash):
                return _broken(session, checked, after, sealed.audit_id, "the row's content was changed")
            checked, after = checked + 1, sealed.audit_id
    unsealed = session.scalar(select(func.count()).select_from(AuditLog).where(AuditLog.id > after)) or 0
    return ChainCheck(checked, after or None, None, None, unsealed, now())


def _rows_between(session: Session, after: int, upto: int, sealed: list[int]) -> list[int]:
    """Audit rows in (after, upto] that have no link: inserted after the seal, with an old id."""
    ids = session.scalars(select(AuditLog.id).where(AuditLog.id > after, AuditLog.id <= upto).order_by(AuditLog.id))
    known = set(sealed)
    return [i for i in ids if i not in known]


def _broken(session: Session, checked: int, after: int, row: int, reason: str) -> ChainCheck:
    unsealed = session.scalar(select(func.count()).select_from(AuditLog).where(AuditLog.id > after)) or 0
    return ChainCheck(checked, after or None, row, reason, unsealed, now())


def checkpoint(session: Session, *, actor: Actor, key: str) -> dict[str, Any]:
    """The latest link, signed with `key` (HMAC-SHA256), for an auditor to keep elsewhere."""
    require(actor, Permission.VIEW_AUDIT)
    if len(key) < 16:
        raise InvalidInput("the checkpoint key must have at least 16 characters (CLAIMLENS_AUDIT_CHECKPOINT_KEY)")
    last = session.execute(select(AuditChainLink).order_by(AuditChainLink.audit_id.desc()).limit(1)).scalar()
    rows = session.scalar(select(func.count()).select_from(AuditChainLink)) or 0
    body = {"last_row": last.audit_id if last else None, "hash": last.hash if last else GENESIS, "rows": rows,
            "at": now().isoformat(timespec="seconds")}  # fmt: skip
    message = json.dumps(body, sort_keys=True).encode()
    return {**body, "hmac_sha256": hmac.new(key.encode(), message, hashlib.sha256).hexdigest()}


def check_checkpoint(session: Session, *, actor: Actor, saved: dict[str, Any], key: str) -> str | None:
    """None when a saved checkpoint's signature holds and its row still carries its hash;
    otherwise what is wrong."""
    require(actor, Permission.VIEW_AUDIT)
    body = {k: saved.get(k) for k in ("last_row", "hash", "rows", "at")}
    expected = hmac.new(key.encode(), json.dumps(body, sort_keys=True).encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, str(saved.get("hmac_sha256", ""))):
        return "the checkpoint's signature does not match (wrong key, or the file was edited)"
    if body["last_row"] is None:
        return None
    stored = session.get(AuditChainLink, body["last_row"])
    if stored is None or stored.hash != body["hash"]:
        return f"row {body['last_row']} no longer carries the checkpoint's hash: the chain was rewritten"
    return None
