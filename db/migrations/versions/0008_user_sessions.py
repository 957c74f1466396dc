"""user sessions: a signed-in browser session that survives a reload until it ends

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03 11:30:00

Each row is one sign-in; the browser holds a random token in an HttpOnly cookie and the
table keeps only the token's SHA-256. Sign-out, expiry, disabling the user, a role change
or a password reset end the row, and with it every browser that holds its cookie.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "user_sessions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("cookie_issued_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("end_reason", sa.String(length=32), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_hash"),
    )
    op.create_index("ix_user_sessions_user_open", "user_sessions", ["user_id", "ended_at"])


def downgrade() -> None:
    op.drop_index("ix_user_sessions_user_open", table_name="user_sessions")
    op.drop_table("user_sessions")
