"""The drift reports' estimated ROC-AUC (`core.monitoring.cbpe`) against NannyML's CBPE on
the same scored windows, and both against the realized ROC-AUC where the claims' labels
are known (the generator's, in the demo database).

For the champion claim model of the database (`DATABASE_URL`, e.g. a copy of the demo
database), per complete week after its reference window, exactly as `claimlens drift`
windows them:

- **ours**: the estimate the drift report stores (isotonic recalibration on the
  champion's test claims, expected ROC-AUC, ±2 SD over labels drawn from the calibrated
  probabilities, clipped to [0, 1]);
- **uncalibrated**: the same estimator on the champion's own probabilities (what the
  reports stored before the recalibration);
- **NannyML**: `nannyml.CBPE(metrics=["roc_auc"])` fitted on the same test claims, each
  window one chunk; it runs in its own virtualenv as a subprocess on parquet files of the
  scored windows (`benchmarks/nannyml_cbpe.py`), because NannyML pins numpy/pandas versions
  ClaimLens does not use. Without that interpreter the NannyML column is skipped with a
  message;
- **realized**: ROC-AUC of the champion's probability against the known labels;
- **validation**, **test**: how many of the window's claims are in the champion's
  validation split (early stopping, its Platt calibration and flag thresholds) or test split
  (the isotonic map above is fitted on them, and the tested ROC-AUC measured): a window
  with any is **in-sample** (`in_sample`), and the summary is repeated over the other
  windows only.

    python3.11 -m venv /work/nannyml-venv && /work/nannyml-venv/bin/pip install nannyml pyarrow statsmodels
    DATABASE_URL=sqlite:////tmp/demo.db .venv/bin/python -m benchmarks.bench_cbpe \\
        [--nannyml-python /work/nannyml-venv/bin/python] [--out benchmarks/results/cbpe]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core import bands, registry
from core.monitoring import cbpe, stats, windows
from core.tasks import Task
from db.models import Claim, ModelVersion, TrainingRun
from db.session import session_scope

RUNNER = Path(__file__).with_name("nannyml_cbpe.py")
DEFAULT_NANNYML = os.environ.get("NANNYML_PYTHON", "/work/nannyml-venv/bin/python")


def splits(session: Session, version: ModelVersion) -> dict[str, set[int]]:
    """The claim ids of the champion's validation and test splits (its run's manifest)."""
    run = session.get(TrainingRun, version.training_run_id) if version.training_run_id else None
    manifest = (run.data_manifest or {}) if run else {}
    return {name: set(manifest.get(name, [])) for name in ("validation", "test")}


def scored_windows(out: Path) -> tuple[pd.DataFrame, pd.DataFrame, float, float]:
    """Per window: our estimate (calibrated and not) and the realized AUC; writes the
    reference and the windows' claims as parquet for NannyML. Returns the table, the
    claims, the champion's tested ROC-AUC and its flag threshold."""
    with session_scope() as session:
        version = registry.champion(session, Task.CLAIM_RISK)
        if version is None:
            sys.exit("no champion claim model in this database: train one first")
        threshold = bands.flag_threshold(bands.stored(version.parameters))
        tested = float((version.metrics or {}).get("summary", {}).get("roc_auc", float("nan")))
        reference = windows.reference_outcomes(session, version)
        calibration = windows.reference_calibration(session, version)
        held_out = splits(session, version)
        _, ref_end = windows.reference_window(session, version)
        last = session.scalar(select(func.max(Claim.report_date)))
        weeks = [
            (start, windows.window_claims(session, version=version, start=start, end=start + timedelta(days=6)))
            for start in windows.window_starts(ref_end + timedelta(days=1), last, "week")
        ]
    rows, claims = [], []
    for start, window in weeks:
        window = window.dropna(subset=["probability"])
        if window.empty:
            continue
        scores = window["probability"].to_numpy(float)
        ours = cbpe.estimate(scores, calibration, threshold)
        before = cbpe.estimate(scores, cbpe.IDENTITY, threshold)
        known = window.dropna(subset=["label"])
        labels = known["label"].to_numpy(bool)
        in_split = {name: int(window["id"].isin(ids).sum()) for name, ids in held_out.items()}
        rows.append(
            {
                "window_start": start,
                "claims": len(window),
                **in_split,
                "in_sample": sum(in_split.values()) > 0,
                "fraud": int(labels.sum()),
                "realized": stats.realized_auc(known["probability"].to_numpy(float), labels)
                if 0 < labels.sum() < len(labels)
                else np.nan,
                "ours": ours.roc_auc,
                "ours_lower": ours.roc_auc_lower,
                "ours_upper": ours.roc_auc_upper,
                "ours_sd": ours.roc_auc_std,
                "unclipped_upper": ours.roc_auc + 2 * ours.roc_auc_std,
                "uncalibrated": before.roc_auc,
                "uncalibrated_upper": before.roc_auc + 2 * before.roc_auc_std,
                "expected_fraud_rate": ours.expected_fraud_rate,
                "observed_fraud_rate": labels.mean() if len(labels) else np.nan,
            }
        )
        claims.append(window.assign(window_start=start))
    out.mkdir(parents=True, exist_ok=True)
    for name, frame in (("reference", reference), ("analysis", pd.concat(claims, ignore_index=True))):
        pd.DataFrame(
            {
                "timestamp": pd.to_datetime(frame["report_date"]),
                "probability": frame["probability"].astype(float),
                "prediction": (frame["probability"] >= threshold).astype(int),
                "label": frame["label"].astype(int) if name == "reference" else frame["label"].astype("Int64"),
                **({"window_start": frame["window_start"].astype(str)} if name == "analysis" else {}),
            }
        ).to_parquet(out / f"{name}.parquet", index=False)
    print(f"calibration: {calibration.source}; flag threshold {threshold:.3f}; tested ROC-AUC {tested:.3f}")
    scores, labels = reference["probability"].to_numpy(float), reference["label"].to_numpy(bool)
    print(
        f"on those reference claims: realized {stats.realized_auc(scores, labels):.3f}, "
        f"ours {cbpe.estimated_auc(scores, calibration):.3f} (in-sample; the drop alert's reference), "
        f"uncalibrated {cbpe.estimate(scores, cbpe.IDENTITY, threshold).roc_auc:.3f}; "
        f"fraud rate {labels.mean():.3f}, mean probability {scores.mean():.3f}"
    )
    return pd.DataFrame(rows), pd.concat(claims, ignore_index=True), tested, threshold


def nannyml(out: Path, python: str) -> pd.DataFrame | None:
    if not Path(python).exists():
        print(f"NannyML skipped: no interpreter at {python} (see this module's docstring to create one)")
        return None
    done = subprocess.run([python, str(RUNNER), str(out)], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        print(f"NannyML skipped: {python} {RUNNER.name} failed:\n{done.stderr[-2000:]}")
        return None
    frame = pd.read_csv(out / "nannyml.csv")
    print(f"NannyML {frame['version'].iat[0]}, recalibrated on the reference: {bool(frame['calibrated'].iat[0])}")
    return frame.assign(window_start=pd.to_datetime(frame["window_start"]).dt.date)


def summarise(table: pd.DataFrame, tested: float) -> None:
    print(f"tested ROC-AUC at training: {tested:.3f}")
    summarise_windows(table, "all windows")
    out_of_sample = table[~table["in_sample"]]
    held = int(table["in_sample"].sum())
    summarise_windows(out_of_sample, f"out of sample only (without the {held} windows holding validation/test claims)")


def summarise_windows(table: pd.DataFrame, title: str) -> None:
    def error(column: str) -> str:
        known = table.dropna(subset=["realized", column])
        diff = known[column] - known["realized"]
        return f"bias {diff.mean():+.3f}, mean |error| {diff.abs().mean():.3f} over {len(known)} windows"

    print(f"-- {title}")
    print(f"ours vs realized:         {error('ours')}")
    print(f"uncalibrated vs realized: {error('uncalibrated')}")
    inside = ((table["realized"] >= table["ours_lower"]) & (table["realized"] <= table["ours_upper"])).mean()
    print(f"realized inside our clipped ±2 SD band: {inside:.0%} of windows")
    print(
        f"upper bound above 1 before clipping: {int((table['unclipped_upper'] > 1).sum())} windows "
        f"(uncalibrated: {int((table['uncalibrated_upper'] > 1).sum())}); after: {int((table['ours_upper'] > 1).sum())}"
    )
    print(f"uncalibrated range: {table['uncalibrated'].min():.3f}-{table['uncalibrated'].max():.3f}")
    if "nannyml" in table:
        print(f"NannyML vs realized:      {error('nannyml')}")
        gap = (table["ours"] - table["nannyml"]).abs()
        print(f"|ours - NannyML|: mean {gap.mean():.3f}, max {gap.max():.3f}")
        same = (table["uncalibrated"] - table["nannyml"]).abs()
        print(f"|uncalibrated - NannyML| (the same estimator when neither recalibrates): max {same.max():.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--nannyml-python", default=DEFAULT_NANNYML, help="python of a virtualenv with nannyml")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/cbpe"), help="folder for the files")
    args = parser.parse_args()
    table, _, tested, _ = scored_windows(args.out)
    theirs = nannyml(args.out, args.nannyml_python)
    if theirs is not None:
        table = table.merge(
            theirs[["window_start", "estimated", "lower", "upper", "realized"]].rename(
                columns={
                    "estimated": "nannyml",
                    "lower": "nannyml_lower",
                    "upper": "nannyml_upper",
                    "realized": "nannyml_realized",
                }
            ),
            on="window_start",
            how="left",
        )
        agree = (table["nannyml_realized"] - table["realized"]).abs().max()
        print(f"realized ROC-AUC, ours vs NannyML's on the same rows: max difference {agree:.2g}")
    table.to_csv(args.out / "windows.csv", index=False)
    columns = ["window_start", "claims", "validation", "test", "fraud", "realized", "ours", "ours_lower", "ours_upper"]
    columns += ["uncalibrated"]
    columns += [c for c in ("nannyml", "nannyml_lower", "nannyml_upper") if c in table]
    with pd.option_context("display.width", 200, "display.max_rows", 500):
        print(table[columns].round(3).to_string(index=False))
    summarise(table, tested)


if __name__ == "__main__":
    main()
