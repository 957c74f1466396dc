"""NannyML's CBPE ROC-AUC on the windows `bench_cbpe` wrote: run with the interpreter of a
virtualenv that has NannyML (it pins library versions ClaimLens does not use, so it lives
apart), never imported by ClaimLens.

    /work/nannyml-venv/bin/python benchmarks/nannyml_cbpe.py DIR

DIR holds `reference.parquet` (the champion's labelled test claims) and `analysis.parquet`
(the windows' claims, with `window_start`); the columns are `timestamp`, `probability`,
`prediction` (flagged at the champion's threshold) and `label`. Each window is estimated as
one chunk, so NannyML's chunks are exactly the drift report's windows. Writes
`nannyml.csv`: window_start, claims, estimated, sampling_error, lower, upper, realized,
calibrated (whether NannyML chose to recalibrate on the reference), version.
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import nannyml
import pandas as pd


def main(folder: Path) -> None:
    reference = pd.read_parquet(folder / "reference.parquet")
    analysis = pd.read_parquet(folder / "analysis.parquet")
    estimator = nannyml.CBPE(
        y_pred_proba="probability",
        y_pred="prediction",
        y_true="label",
        timestamp_column_name="timestamp",
        metrics=["roc_auc"],
        problem_type="classification_binary",
        chunk_number=1,  # each estimate() call is one window
    )
    estimator.fit(reference)
    rows = []
    for start, window in analysis.groupby("window_start", sort=True):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # single-class or small windows: NaN, reported as such
            result = estimator.estimate(window.drop(columns=["window_start"])).filter(period="analysis")
        frame = result.to_df()
        metric = frame["roc_auc"].iloc[0]
        rows.append(
            {
                "window_start": start,
                "claims": len(window),
                "estimated": metric["value"],
                "sampling_error": metric["sampling_error"],
                "lower": metric["lower_confidence_boundary"],
                "upper": metric["upper_confidence_boundary"],
                "realized": metric["realized"],
                "calibrated": bool(estimator.needs_calibration),
                "version": nannyml.__version__,
            }
        )
    pd.DataFrame(rows).to_csv(folder / "nannyml.csv", index=False)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
