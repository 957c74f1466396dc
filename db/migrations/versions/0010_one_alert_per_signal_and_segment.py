"""one drift alert per signal and segment in a window

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03 12:00:00

A window's report raises at most one alert per signal (family and metric) and segment; the
unique index makes the database refuse a repeat. Repeats stored before it are removed
first: of each repeat the alert kept is an acknowledged one when a manager acknowledged
any (the earliest such), else the earliest; the reports that lost alerts get their stored
`alerts` count recounted.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


SIGNAL = "report_id, family, metric, segment"


def upgrade() -> None:
    bind = op.get_bind()
    repeated = [
        row[0]
        for row in bind.execute(
            sa.text(f"SELECT DISTINCT report_id FROM drift_alerts GROUP BY {SIGNAL} HAVING COUNT(*) > 1")
        )
    ]
    # Which repeat a manager acknowledged is not tied to its id: rank acknowledged ones first.
    op.execute(
        "DELETE FROM drift_alerts WHERE id IN (SELECT id FROM ("
        f"SELECT id, ROW_NUMBER() OVER (PARTITION BY {SIGNAL} ORDER BY acknowledged_at IS NULL, id) AS place "
        "FROM drift_alerts) ranked WHERE place > 1)"
    )
    if repeated:
        bind.execute(
            sa.text(
                "UPDATE drift_reports SET alerts = "
                "(SELECT COUNT(*) FROM drift_alerts WHERE drift_alerts.report_id = drift_reports.id) "
                "WHERE id IN :ids"
            ).bindparams(sa.bindparam("ids", expanding=True)),
            {"ids": repeated},
        )
    op.create_index(
        "uq_drift_alerts_signal_segment", "drift_alerts", ["report_id", "family", "metric", "segment"], unique=True
    )


def downgrade() -> None:
    op.drop_index("uq_drift_alerts_signal_segment", table_name="drift_alerts")
