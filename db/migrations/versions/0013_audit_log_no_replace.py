"""the audit log refuses an insert over an existing row (SQLite's REPLACE)

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03 19:10:00

On SQLite, `REPLACE INTO audit_log (id, ...) VALUES (1, ...)` deletes row 1 and inserts
the new one without firing the DELETE trigger, so it rewrote history. A BEFORE INSERT
trigger now refuses an insert whose id exists. PostgreSQL needs none: its
`INSERT ... ON CONFLICT DO UPDATE` fires the UPDATE trigger of 0006 and is refused.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MESSAGE = "audit_log is append-only"


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute(f"""
            CREATE TRIGGER audit_log_no_replace BEFORE INSERT ON audit_log
            WHEN EXISTS (SELECT 1 FROM audit_log WHERE id = NEW.id)
            BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END
        """)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_replace")
