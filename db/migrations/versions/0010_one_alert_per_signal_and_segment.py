"""one drift alert per signal and segment in a window

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03 12:00:00

A window's report raises at most one alert per signal (family and metric) and segment; the
unique index makes the database refuse a repeat. Repeats stored before it are removed
first, keeping the earliest alert (the one a manager may already have acknowledged).
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(
        "DELETE FROM drift_alerts WHERE id NOT IN ("
        "SELECT MIN(id) FROM drift_alerts GROUP BY report_id, family, metric, segment)"
    )
    op.create_index(
        "uq_drift_alerts_signal_segment", "drift_alerts", ["report_id", "family", "metric", "segment"], unique=True
    )


def downgrade() -> None:
    op.drop_index("uq_drift_alerts_signal_segment", table_name="drift_alerts")
