"""SIU review status and claim comments

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03 12:00:00

A referral to SIU used to close the claim as `decided`. It now leaves the claim open in
`siu_review`, unassigned (the SIU team's queue), until SIU records its outcome. Claims
whose latest decision is a referral move to `siu_review` (their version counter bumped,
as every state change does); the downgrade closes them again. `claim_comments` holds
notes added to a claim outside a decision.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Claims whose most recent review is a referral to SIU.
REFERRED = """
    SELECT r.claim_id FROM reviews r
    WHERE r.decision = 'refer_siu'
      AND r.id = (SELECT MAX(latest.id) FROM reviews latest WHERE latest.claim_id = r.claim_id)
"""


def upgrade() -> None:
    op.create_table(
        "claim_comments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("claim_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.text("(CURRENT_TIMESTAMP)"), nullable=False
        ),
        sa.ForeignKeyConstraint(["claim_id"], ["claims.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_claim_comments_claim_created", "claim_comments", ["claim_id", "created_at"])
    op.execute(f"""
        UPDATE claims SET status = 'siu_review', assigned_to_id = NULL, version = version + 1
        WHERE status = 'decided' AND id IN ({REFERRED})
    """)


def downgrade() -> None:
    op.execute("UPDATE claims SET status = 'decided', version = version + 1 WHERE status = 'siu_review'")
    op.drop_index("ix_claim_comments_claim_created", table_name="claim_comments")
    op.drop_table("claim_comments")
