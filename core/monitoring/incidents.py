"""Alert incidents: the alerts of one monitoring window (one drift report) grouped into one
incident, read as signals × segments; the managers' inbox of incidents with the count of
open alerts; and acknowledging all open alerts of an incident in one audited action.

A window raises at most one alert per signal (family and metric) and segment (see
`alerting.alerts_to_raise` and the unique index on `drift_alerts`), so an incident's matrix has
one cell per alert.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pandas as pd
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from core import audit, clock
from core.auth import Actor, Permission, require
from core.errors import InvalidInput, NotFound
from core.monitoring import alerting
from db.dialect import rows_changed
from db.models import DriftAlert, DriftReport

FAMILY_ORDER = ("performance", "prediction", "field", "text", "sentiment")
OPEN, ACKNOWLEDGED = "open", "acknowledged"


@dataclass(frozen=True)
class Incident:
    """One window's alerts (a drift report with at least one alert)."""

    report_id: int
    window_start: date
    window_end: date
    alerts: tuple[alerting.AlertView, ...]

    @property
    def open_alerts(self) -> tuple[alerting.AlertView, ...]:
        return tuple(a for a in self.alerts if a.acknowledged_at is None)

    @property
    def open(self) -> int:
        return len(self.open_alerts)

    @property
    def signals(self) -> list[str]:
        """Signals in family order (performance first), then by name."""
        rank = {family: i for i, family in enumerate(FAMILY_ORDER)}
        keys = {(rank.get(a.family, len(rank)), a.signal) for a in self.alerts}
        return [signal for _, signal in sorted(keys)]

    @property
    def segments(self) -> list[str]:
        """ "all" first, then the segments by name."""
        return sorted({a.segment for a in self.alerts}, key=lambda s: (s != "all", s))

    def matrix(self) -> pd.DataFrame:
        """Signals (rows) × segments (columns): "open", "acknowledged" or "" (no alert)."""
        frame = pd.DataFrame("", index=pd.Index(self.signals, name="signal"), columns=self.segments)
        for alert in self.alerts:
            frame.loc[alert.signal, alert.segment] = OPEN if alert.acknowledged_at is None else ACKNOWLEDGED
        return frame

    def summary(self) -> str:
        signals, segments = len(self.signals), len(self.segments)
        return (
            f"{len(self.alerts)} alert{'s' * (len(self.alerts) != 1)} ({self.open} open): "
            f"{signals} signal{'s' * (signals != 1)} × {segments} segment{'s' * (segments != 1)}"
        )


@dataclass(frozen=True)
class Inbox:
    incidents: tuple[Incident, ...]  # newest window first

    @property
    def open_alerts(self) -> int:
        return sum(i.open for i in self.incidents)

    @property
    def open_incidents(self) -> tuple[Incident, ...]:
        return tuple(i for i in self.incidents if i.open)

    def latest_open(self) -> Incident | None:
        """The newest incident that still has open alerts."""
        return next(iter(self.open_incidents), None)

    def incident(self, window_start: date) -> Incident | None:
        return next((i for i in self.incidents if i.window_start == window_start), None)


def inbox(session: Session, *, actor: Actor, window: str = "week") -> Inbox:
    """The current champion's incidents for one window kind, newest first."""
    grouped: dict[int, list[alerting.AlertView]] = {}
    for alert in alerting.alerts(session, actor=actor, window=window):  # checks VIEW_MONITORING
        grouped.setdefault(alert.report_id, []).append(alert)
    return Inbox(
        tuple(
            Incident(report_id, alerts[0].window_start, alerts[0].window_end, tuple(alerts))
            for report_id, alerts in grouped.items()
        )
    )


def acknowledge_incident(session: Session, *, actor: Actor, report_id: int, note: str, expected: int) -> int:
    """Acknowledge every open alert of one incident with one note, in one audit entry.
    `expected` is the number of open alerts the manager was shown: if another manager
    acknowledged some in the meantime the call is refused, so nobody confirms a number
    they did not see. Returns the number acknowledged."""
    require(actor, Permission.VIEW_MONITORING)
    require(actor, Permission.TRAIN_MODELS)  # acting on alerts is a manager's call, as for one alert
    text = alerting.acknowledgement_note(note)
    stored = session.get(DriftReport, report_id)
    if stored is None:
        raise NotFound(f"drift report {report_id} does not exist")
    pending = session.scalars(
        select(DriftAlert)
        .where(DriftAlert.report_id == report_id, DriftAlert.acknowledged_at.is_(None))
        .order_by(DriftAlert.id)
        .with_for_update()
    ).all()
    if not pending:
        raise InvalidInput(f"every alert of the week of {stored.window_start} is already acknowledged")
    if len(pending) != expected:
        raise InvalidInput(
            f"the week of {stored.window_start} has {len(pending)} open alerts now, not {expected} "
            "(someone acknowledged some meanwhile): look at the incident again"
        )
    # Written only where still open, and counted: SQLite ignores FOR UPDATE, so two managers
    # confirming at once both read the same open alerts; the later one must not overwrite.
    written = session.execute(
        update(DriftAlert)
        .where(DriftAlert.id.in_([a.id for a in pending]), DriftAlert.acknowledged_at.is_(None))
        .values(acknowledged_by_id=actor.user_id, acknowledged_at=clock.now(), acknowledgement=text)
    )
    if rows_changed(written) != expected:  # the caller's transaction rolls back what was written
        raise InvalidInput(
            f"someone acknowledged alerts of the week of {stored.window_start} at the same moment: "
            "look at the incident again"
        )
    audit.record(
        session,
        actor=actor,
        action="drift.incident_acknowledged",
        entity_type="drift_report",
        entity_id=report_id,
        details={
            "window_start": stored.window_start.isoformat(),
            "alerts": [a.id for a in pending],
            "signals": sorted({f"{a.family}: {a.metric}" for a in pending}),
            "segments": sorted({a.segment for a in pending}),
            "note": text,
        },
    )
    return len(pending)
