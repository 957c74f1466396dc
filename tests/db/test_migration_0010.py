"""Migration 0010: alerts repeated in a window (same report, signal and segment) before it
are removed, keeping per repeat the acknowledged alert when there is one (else the
earliest), and the affected reports' stored alert counts are recounted."""

from __future__ import annotations

from sqlalchemy import text

from db import migrate
from db.session import engine_for

REPORT = """
    INSERT INTO drift_reports (id, model_version_id, "window", window_start, window_end, reference_start,
        reference_end, claims, metrics, changed_terms, thresholds, alerts, created_at)
    VALUES (:id, 1, 'week', :start, :end, '2025-11-01', '2026-03-08', 300, '[]', '[]', '{}', :alerts,
        CURRENT_TIMESTAMP)
"""
ALERT = """
    INSERT INTO drift_alerts (id, report_id, family, metric, segment, value, threshold, message, created_at,
        acknowledged_by_id, acknowledged_at, acknowledgement)
    VALUES (:id, :report, 'field', :metric, :segment, 0.3, 0.1, 'drifted', CURRENT_TIMESTAMP,
        :by, :at, :note)
"""
# (id, report, metric, segment, acknowledgement note or None)
ALERTS = [
    (1, 1, "claimed_amount", "all", None),
    (2, 1, "claimed_amount", "all", "storm: expected"),  # a later repeat is the acknowledged one
    (3, 1, "claimed_amount", "all", None),
    (4, 1, "region", "all", None),  # nobody acknowledged either: the earliest stays
    (5, 1, "region", "all", None),
    (6, 1, "region", "region=south", "first look"),  # both acknowledged: the earliest stays
    (7, 1, "region", "region=south", "second look"),
    (8, 2, "claimed_amount", "all", None),  # no repeat: untouched, and so is its report's count
]


def test_repeated_alerts_keep_the_acknowledged_one_and_reports_are_recounted(backend: str, database_url: str) -> None:
    migrate.downgrade(database_url, "0009")
    with engine_for(database_url).begin() as connection:
        connection.execute(
            text(
                "INSERT INTO users (id, username, role, is_active, failed_logins, created_at, updated_at) "
                "VALUES (1, 'max', 'manager', TRUE, 0, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
            )
        )
        connection.execute(
            text(
                "INSERT INTO model_versions (id, task, version, stage, artifact_path, base_model, method, metrics,"
                " parameters, created_at) VALUES (1, 'claim_risk', 1, 'champion', 'models/x', 'm', 'head', '{}',"
                " '{}', CURRENT_TIMESTAMP)"
            )
        )
        connection.execute(text(REPORT), {"id": 1, "start": "2026-05-04", "end": "2026-05-10", "alerts": 7})
        connection.execute(text(REPORT), {"id": 2, "start": "2026-05-11", "end": "2026-05-17", "alerts": 1})
        for alert_id, report_id, metric, segment, note in ALERTS:
            acknowledged = note is not None
            connection.execute(
                text(ALERT),
                {
                    "id": alert_id,
                    "report": report_id,
                    "metric": metric,
                    "segment": segment,
                    "by": 1 if acknowledged else None,
                    "at": f"2026-05-1{alert_id} 09:00:00" if acknowledged else None,
                    "note": note,
                },
            )
    migrate.upgrade(database_url)
    with engine_for(database_url).connect() as connection:
        alerts = connection.execute(
            text("SELECT id, acknowledged_by_id, acknowledgement FROM drift_alerts ORDER BY id")
        ).all()
        counts = dict(connection.execute(text("SELECT id, alerts FROM drift_reports ORDER BY id")).all())
    assert [tuple(a) for a in alerts] == [
        (2, 1, "storm: expected"),
        (4, None, None),
        (6, 1, "first look"),
        (8, None, None),
    ]
    assert counts == {1: 3, 2: 1}
