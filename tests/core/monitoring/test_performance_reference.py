"""The performance-drop alert of a stored drift run (both backends) compares a window's
estimated ROC-AUC with the same estimate on the champion's test claims, not with the
ROC-AUC realized on them, and a segment with its own test claims' estimate, or with
nothing when it has too few of them. The champion's test claims here carry 9 frauds, too
few to recalibrate, so every estimate uses the champion's own probabilities and the test
knows what each one is."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pytest
from scipy.stats import norm
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.auth import cli_actor
from core.monitoring import cbpe, report, stats
from db.models import Claim, ClaimGroundTruth, DriftAlert, DriftReport, ModelVersion, Prediction, TrainingRun

ADMIN = cli_actor()
WINDOW = date(2026, 2, 2)  # the Monday after the reference (January)
FRAUDS = 9


def probabilities(n: int, spread: float) -> np.ndarray:
    """n evenly spread scores around 12%: the larger `spread`, the better they rank."""
    z = norm.ppf((np.arange(n) + 0.5) / n)
    return 1 / (1 + np.exp(-(-2.0 + spread * z)))


def frauds_at(p: np.ndarray, rank: float, width: float = 0.04) -> np.ndarray:
    """`FRAUDS` labels placed `rank` ± `width` of the way up the scores: a realized ROC-AUC near `rank`."""
    order = np.argsort(p)
    labels = np.zeros(len(p), dtype=bool)
    labels[order[np.round(np.linspace(rank - width, rank + width, FRAUDS) * (len(p) - 1)).astype(int)]] = True
    assert labels.sum() == FRAUDS
    return labels


class World:
    """A champion trained on January's claims (`train`, `test`) and one week of claims after."""

    def __init__(self, session: Session) -> None:
        self.session, self.rng, self.n = session, np.random.default_rng(0), 0
        self.train: list[int] = []
        self.test: list[int] = []
        self.version = ModelVersion(
            task="claim_risk",
            version=1,
            stage="champion",
            artifact_path="x",
            base_model="x",
            method="head",
            parameters={"thresholds": {"high": 0.5, "medium": 0.3}},
        )
        session.add(self.version)
        session.flush()

    def claims(self, p: np.ndarray, region: str, week: date | None, labels: np.ndarray | None = None) -> list[int]:
        """Claims scored `p` in `region`, reported in January (`week` None) or in the week from `week`."""
        claims = [self.claim(region, week) for _ in p]
        self.session.add_all(claims)
        self.session.flush()
        for claim, probability in zip(claims, p, strict=True):
            band = "high" if probability >= 0.5 else "medium" if probability >= 0.3 else "low"
            self.session.add(
                Prediction(
                    claim_id=claim.id,
                    model_version_id=self.version.id,
                    probability=float(probability),
                    band=band,
                    priority=float(probability),
                    input_hash="x",
                )
            )
        if labels is not None:
            self.session.add_all(
                ClaimGroundTruth(claim_id=c.id, is_fraud=bool(y), source="test")
                for c, y in zip(claims, labels, strict=True)
            )
        self.session.flush()
        return [c.id for c in claims]

    def claim(self, region: str, week: date | None) -> Claim:
        self.n += 1
        reported = week + timedelta(days=self.n % 7) if week else date(2026, 1, 2 + self.n % 19)
        return Claim(
            claim_number=f"CLM-{self.n:06d}",
            policy_number=f"POL-{self.n:06d}",
            incident_date=reported - timedelta(days=int(self.rng.integers(0, 10))),
            report_date=reported,
            amount=float(self.rng.uniform(1_000, 9_000)),
            fields={
                "line_of_business": "auto",
                "policy_start_date": "2024-01-01",
                "incident_hour": int(self.rng.integers(0, 24)),
                "insured_value": 20_000.0,
                "prior_claims": int(self.rng.integers(0, 3)),
                "police_report": str(self.rng.choice(["yes", "no"])),
                "witnesses": int(self.rng.integers(0, 3)),
                "region": region,
                "channel": str(self.rng.choice(["web", "phone"])),
                "claimant_name": "A. Claimant",
                "claimant_contact": "a@example.com",
                "narrative": " ".join(self.rng.choice(["rear", "ended", "parking", "window", "broken", "stolen"], 6)),
            },
        )

    def run(self, tested_auc: float) -> list[dict]:  # type: ignore[type-arg]
        """Record the training run (its test AUC as training measures it) and run drift
        with no encoder; the week's performance metrics."""
        run = TrainingRun(
            task="claim_risk",
            method="head",
            profile="test",
            status="succeeded",
            data_manifest={"train": self.train, "validation": [], "test": self.test},
        )
        self.session.add(run)
        self.session.flush()
        self.version.training_run_id = run.id
        self.version.metrics = {"summary": {"roc_auc": tested_auc}}
        self.session.flush()
        result = report.run_drift(self.session, actor=ADMIN, window="week")
        assert [r.window_start for r in result.reports] == [WINDOW]
        stored = self.session.scalars(select(DriftReport)).one()
        return [m for m in stored.metrics if m["family"] == "performance"]


@pytest.fixture
def world(session: Session, monkeypatch: pytest.MonkeyPatch) -> World:
    monkeypatch.setattr(report, "Embedder", lambda version: lambda texts: None)  # no encoder: no text check
    return World(session)


def performance_alerts(session: Session) -> list[DriftAlert]:
    return list(session.scalars(select(DriftAlert).where(DriftAlert.family == "performance")))


@pytest.mark.parametrize(
    ("fraud_rank", "window_spread", "alerts"),
    [
        (0.74, 1.0, True),  # 0.07 below the test claims' estimate, level with their realized AUC
        (0.95, 1.5, False),  # level with the test claims' estimate, 0.13 below their realized AUC
    ],
)
def test_the_drop_is_measured_from_the_estimate_on_the_test_claims_not_their_realized_auc(
    world: World, fraud_rank: float, window_spread: float, alerts: bool
) -> None:
    test_p = probabilities(200, 1.5)
    test_labels = frauds_at(test_p, fraud_rank)
    world.train = world.claims(probabilities(300, 1.5), "north", None)
    world.test = world.claims(test_p, "north", None, test_labels)
    world.claims(probabilities(1_000, window_spread), "north", WINDOW)
    tested = stats.realized_auc(test_p, test_labels)
    [metric] = [m for m in world.run(tested) if m["segment"] == "all"]
    d = metric["details"]
    assert d["reference_estimated"] == pytest.approx(cbpe.expected_auc(test_p, test_p))
    assert d["reference_realized"] == pytest.approx(tested)
    to_realized = tested - d["estimated"]
    assert metric["value"] == pytest.approx(d["reference_estimated"] - d["estimated"])
    if alerts:
        assert metric["value"] > max(0.05, 2 * d["estimated_std"]) and abs(to_realized) < 0.05
    else:  # the realized figure would have alerted
        assert abs(metric["value"]) < 0.05 and to_realized > max(0.05, 2 * d["estimated_std"])
    assert metric["drift"] is alerts
    messages = [a.message for a in performance_alerts(world.session) if a.segment == "all"]
    assert len(messages) == int(alerts)
    if alerts:
        reference = f"{d['reference_estimated']:.3f} estimated the same way on the champion's test claims"
        assert reference in messages[0] and f"{tested:.3f} realized there" in messages[0]


def test_a_segment_is_compared_with_its_own_test_claims_estimate_or_not_at_all(world: World) -> None:
    north_p, south_p = probabilities(150, 0.5), probabilities(60, 2.0)
    south_labels = frauds_at(south_p, 0.92, 0.07)  # the test claims' frauds, all in the south, score high
    world.train = world.claims(probabilities(150, 1.0), "north", None)
    world.train += world.claims(probabilities(150, 1.0), "south", None)
    world.test = world.claims(north_p, "north", None, np.zeros(150, dtype=bool))
    world.test += world.claims(south_p, "south", None, south_labels)
    world.claims(probabilities(300, 0.5), "north", WINDOW)
    world.claims(probabilities(300, 0.8), "south", WINDOW)
    tested = stats.realized_auc(np.r_[north_p, south_p], np.r_[np.zeros(150, dtype=bool), south_labels])
    metrics = {m["segment"]: m for m in world.run(tested)}
    assert tested - metrics["region=north"]["details"]["estimated"] > 0.2  # far below the whole model's AUC
    north = metrics["region=north"]
    assert north["details"]["reference_estimated"] == pytest.approx(cbpe.expected_auc(north_p, north_p))
    assert north["details"]["reference_n"] == 150 and north["drift"] is False
    south = metrics["region=south"]
    assert south["value"] is None and south["details"]["reference_estimated"] is None and south["drift"] is False
    assert "60 reference claims in this segment, 100 needed" in south["details"]["no_verdict"]
    assert {a.segment for a in performance_alerts(world.session)} <= {"all", "line_of_business=auto"}
