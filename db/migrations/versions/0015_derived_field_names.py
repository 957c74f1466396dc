"""stored drift reports and alerts name derived fields as core/claim_fields does

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-04 15:10:00

Drift used to derive its own copies of three claim fields under other names. It now reads
`core/claim_fields`, so reports written before name the same signal differently, and a
heat map or alert timeline across the change would show one signal ending and another
starting. The definitions are the same, so stored names are renamed: each field metric in
`drift_reports.metrics`, and `drift_alerts.metric` with the words in its message. The
audit log keeps what it recorded (its rows are hash-chained and append-only).
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

RENAMED = {"days_insured": "policy_age", "report_delay_days": "report_delay", "amount_ratio": "amount_vs_insured"}


def upgrade() -> None:
    _rename(RENAMED)


def downgrade() -> None:
    _rename({new: old for old, new in RENAMED.items()})


def _rename(names: dict[str, str]) -> None:
    bind = op.get_bind()
    for report_id, stored in bind.execute(sa.text("SELECT id, metrics FROM drift_reports")).all():
        metrics = json.loads(stored) if isinstance(stored, str) else stored
        renamed = [_renamed(metric, names) for metric in metrics or []]
        if renamed != metrics:
            update = sa.text("UPDATE drift_reports SET metrics = :metrics WHERE id = :id")
            bind.execute(
                update.bindparams(sa.bindparam("metrics", type_=sa.JSON)), {"metrics": renamed, "id": report_id}
            )
    for old, new in names.items():
        # Messages begin with the name in words ("amount ratio shifted ...", `report.describe`).
        bind.execute(
            sa.text(
                "UPDATE drift_alerts SET metric = :new, message = :new_words || substr(message, :rest)"
                " WHERE family = 'field' AND metric = :old AND substr(message, 1, :length) = :old_words"
            ),
            {
                "old": old,
                "new": new,
                "old_words": _words(old),
                "new_words": _words(new),
                "length": len(_words(old)),
                "rest": len(_words(old)) + 1,
            },
        )
        bind.execute(
            sa.text("UPDATE drift_alerts SET metric = :new WHERE family = 'field' AND metric = :old"),
            {"old": old, "new": new},
        )


def _renamed(metric: dict[str, object], names: dict[str, str]) -> dict[str, object]:
    name = metric.get("name")
    if metric.get("family") == "field" and isinstance(name, str) and name in names:
        return {**metric, "name": names[name]}
    return metric


def _words(name: str) -> str:
    return name.replace("_", " ")
