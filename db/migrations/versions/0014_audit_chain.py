"""the audit log's hash chain

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03 19:10:00

`audit_chain` holds, for each sealed audit row, the SHA-256 of that row's content and of
the previous row's hash (`core.audit.seal`). Rewriting, deleting or slipping in a sealed
row breaks the chain from there on (`claimlens audit verify`). The chain is append-only
like the log itself.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MESSAGE = "audit_chain is append-only"


def upgrade() -> None:
    op.create_table(
        "audit_chain",
        sa.Column("audit_id", sa.Integer(), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.Column("sealed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("audit_id"),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"""
            CREATE FUNCTION audit_chain_append_only() RETURNS trigger AS $$
            BEGIN RAISE EXCEPTION '{MESSAGE}'; END;
            $$ LANGUAGE plpgsql
        """)
        op.execute("""
            CREATE TRIGGER audit_chain_append_only BEFORE UPDATE OR DELETE ON audit_chain
            FOR EACH ROW EXECUTE FUNCTION audit_chain_append_only()
        """)
        return
    for event in ("UPDATE", "DELETE"):
        op.execute(f"""
            CREATE TRIGGER audit_chain_no_{event.lower()} BEFORE {event} ON audit_chain
            BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END
        """)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_chain_append_only ON audit_chain")
        op.execute("DROP FUNCTION IF EXISTS audit_chain_append_only()")
    op.drop_table("audit_chain")
