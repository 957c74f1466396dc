"""idle sessions and first-sign-in password change

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03 18:50:00

`user_sessions.last_active_at`: when the session's user last clicked (a page refreshing
itself does not count); a session idle longer than `session_idle_minutes` ends.
`users.must_change_password`: an administrator set the password, so its owner chooses
their own at the next sign-in before doing anything else.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("user_sessions", sa.Column("last_active_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column(
        "users",
        sa.Column("must_change_password", sa.Boolean(), nullable=False, server_default=sa.false()),
    )


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_column("must_change_password")
    with op.batch_alter_table("user_sessions") as batch:
        batch.drop_column("last_active_at")
