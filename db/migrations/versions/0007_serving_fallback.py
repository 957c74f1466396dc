"""champion serving fallback: the outgoing champion serves the queue until the new one has rescored

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03 11:10:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("model_versions") as batch:
        batch.add_column(sa.Column("serving_fallback_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            "fk_model_versions_serving_fallback", "model_versions", ["serving_fallback_id"], ["id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("model_versions") as batch:
        batch.drop_constraint("fk_model_versions_serving_fallback", type_="foreignkey")
        batch.drop_column("serving_fallback_id")
