"""Migration 0015: drift reports and alerts stored before drift read `core/claim_fields` are
renamed to its field names, so a signal's history reads as one line across the change."""

from __future__ import annotations

import json

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from db import migrate
from db.models import DriftAlert, DriftReport
from db.session import engine_for


def _metric(name: str, family: str = "field") -> dict[str, object]:
    return {"family": family, "name": name, "segment": "all", "method": "psi+ks", "value": 0.3, "threshold": 0.2}


def test_old_derived_field_names_become_the_claim_field_names(backend: str, database_url: str) -> None:
    migrate.downgrade(database_url, "0014")
    stored = [
        _metric("amount_ratio"),
        _metric("days_insured"),
        _metric("claimed_amount"),
        _metric("roc_auc", "performance"),
    ]
    with engine_for(database_url).begin() as connection:
        connection.execute(
            text(
                "INSERT INTO model_versions (id, task, version, stage, artifact_path, base_model, method, metrics,"
                " parameters, created_at) VALUES (1, 'claim_risk', 1, 'champion', 'models/x', 'm', 'head', '{}',"
                " '{}', CURRENT_TIMESTAMP)"
            )
        )
        connection.execute(
            text(
                'INSERT INTO drift_reports (id, model_version_id, "window", window_start, window_end,'
                " reference_start, reference_end, claims, metrics, changed_terms, thresholds, alerts, created_at)"
                " VALUES (1, 1, 'week', '2026-05-04', '2026-05-10', '2025-11-01', '2026-03-08', 300, :metrics,"
                " '[]', '{}', 2, CURRENT_TIMESTAMP)"
            ),
            {"metrics": json.dumps(stored)},
        )
        for alert_id, metric, message in [
            (1, "amount_ratio", "amount ratio in region south shifted (PSI 0.30 ≥ 0.20)"),
            (2, "claimed_amount", "claimed amount shifted (PSI 0.30 ≥ 0.20)"),
        ]:
            connection.execute(
                text(
                    "INSERT INTO drift_alerts (id, report_id, family, metric, segment, value, threshold, message,"
                    " created_at) VALUES (:id, 1, 'field', :metric, 'all', 0.3, 0.2, :message, CURRENT_TIMESTAMP)"
                ),
                {"id": alert_id, "metric": metric, "message": message},
            )
    migrate.upgrade(database_url)
    with Session(engine_for(database_url)) as session:
        report = session.get(DriftReport, 1)
        assert report is not None
        assert [m["name"] for m in report.metrics] == ["amount_vs_insured", "policy_age", "claimed_amount", "roc_auc"]
        assert report.metrics[0]["value"] == 0.3  # only the name changed
        alerts = {a.id: (a.metric, a.message) for a in session.scalars(select(DriftAlert))}
    assert alerts == {
        1: ("amount_vs_insured", "amount vs insured in region south shifted (PSI 0.30 ≥ 0.20)"),
        2: ("claimed_amount", "claimed amount shifted (PSI 0.30 ≥ 0.20)"),
    }
