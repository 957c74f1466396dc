"""claims keep the schema's fields in one JSON column

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07 23:30:00

A claim's shape is the insurer's schema (`core/schema.py`), not a fixed set of columns.
The columns every part needs stay (claim and policy number, report and incident day, the
amount, review state); the demo's other columns move into `fields` (JSON on SQLite,
JSONB on PostgreSQL), under the names `schemas/demo.toml` gives them, and
`claimed_amount` becomes `amount`. Dates are kept as ISO strings, as import writes them.
Downgrading moves them back (a claim imported under another schema has no value for
the demo's columns: it cannot be downgraded, and the downgrade says so).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The demo's columns that move into `fields`, with their types (for the downgrade).
MOVED: dict[str, sa.types.TypeEngine[Any]] = {
    "line_of_business": sa.String(16), "policy_start_date": sa.Date(), "incident_hour": sa.Integer(),
    "insured_value": sa.Float(), "prior_claims": sa.Integer(), "police_report": sa.String(8),
    "witnesses": sa.Integer(), "region": sa.String(32), "channel": sa.String(16),
    "claimant_name": sa.String(128), "claimant_contact": sa.String(128), "narrative": sa.Text(),
}  # fmt: skip
JSON_TYPE = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    with op.batch_alter_table("claims") as batch:
        batch.add_column(sa.Column("fields", JSON_TYPE, nullable=True))
        batch.add_column(sa.Column("amount", sa.Float(), nullable=True))
    if postgres:
        pairs = ", ".join(f"'{name}', {_pg_value(name)}" for name in MOVED)
        op.execute(
            f"UPDATE claims SET fields = jsonb_strip_nulls(jsonb_build_object({pairs})), amount = claimed_amount"
        )
    else:
        pairs = ", ".join(f"'{name}', {name}" for name in MOVED)
        op.execute(f"UPDATE claims SET fields = json_object({pairs}), amount = claimed_amount")
    with op.batch_alter_table("claims") as batch:
        batch.drop_index("ix_claims_status_line")
        batch.drop_index("ix_claims_region")
        for name in (*MOVED, "claimed_amount"):
            batch.drop_column(name)
        batch.alter_column("fields", existing_type=JSON_TYPE, nullable=False)
        batch.alter_column("claim_number", existing_type=sa.String(32), type_=sa.String(64))
        batch.alter_column("policy_number", existing_type=sa.String(32), type_=sa.String(64), nullable=True)
        batch.alter_column("incident_date", existing_type=sa.Date(), nullable=True)
        batch.create_index("ix_claims_status", ["status"])


def _pg_value(name: str) -> str:
    return f"to_char({name}, 'YYYY-MM-DD')" if name == "policy_start_date" else name


def downgrade() -> None:
    bind = op.get_bind()
    postgres = bind.dialect.name == "postgresql"
    missing = bind.execute(
        sa.text(
            "SELECT count(*) FROM claims WHERE amount IS NULL OR incident_date IS NULL OR policy_number IS NULL"
            + (" OR NOT (fields ? 'narrative')" if postgres else " OR json_extract(fields, '$.narrative') IS NULL")
        )
    ).scalar()
    if missing:
        raise RuntimeError(f"{missing} claim(s) were imported under another schema than the demo's; cannot downgrade")
    with op.batch_alter_table("claims") as batch:
        for name, kind in MOVED.items():
            batch.add_column(sa.Column(name, kind, nullable=True))
        batch.add_column(sa.Column("claimed_amount", sa.Float(), nullable=True))
    for name, kind in MOVED.items():
        if postgres:
            cast = {"DATE": "date", "INTEGER": "integer", "FLOAT": "double precision"}.get(str(kind), "text")
            op.execute(f"UPDATE claims SET {name} = (fields ->> '{name}')::{cast}")
        else:
            op.execute(f"UPDATE claims SET {name} = json_extract(fields, '$.{name}')")
    op.execute("UPDATE claims SET claimed_amount = amount")
    with op.batch_alter_table("claims") as batch:
        batch.drop_index("ix_claims_status")
        batch.drop_column("fields")
        batch.drop_column("amount")
        for name, kind in (*MOVED.items(), ("claimed_amount", sa.Float())):
            batch.alter_column(name, existing_type=kind, nullable=False)
        batch.alter_column("claim_number", existing_type=sa.String(64), type_=sa.String(32))
        batch.alter_column("policy_number", existing_type=sa.String(64), type_=sa.String(32), nullable=False)
        batch.alter_column("incident_date", existing_type=sa.Date(), nullable=False)
        batch.create_index("ix_claims_status_line", ["status", "line_of_business"])
        batch.create_index("ix_claims_region", ["region"])
