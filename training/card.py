"""The model card written into every model folder (README.md)."""

from __future__ import annotations

from typing import Any

from training.config import TrainingConfig

CLAIM_COLUMNS = ("roc_auc", "pr_auc", "f1", "recall", "brier", "ece")
SENTIMENT_COLUMNS = ("accuracy", "macro_f1")
INTENDED_USE = {
    "claim_risk": (
        "Ranks incoming insurance claims by the probability that they are fraudulent, so adjusters review the "
        "riskiest first. It supports a human decision; it never decides a claim on its own."
    ),
    "sentiment": "Reads claimants' messages as negative, neutral or positive, to spot unhappy customers early.",
}
LIMITATIONS = (
    "- Trained on the data window below; claims unlike it (new regions, products, fraud patterns) may be scored "
    "poorly: watch the drift reports.\n"
    "- Labels are partly adjusters' decisions, which carry their own biases; undetected fraud is labelled honest.\n"
    "- Probabilities are calibrated on the validation window; recalibrate when the base rate moves."
)


def render(config: TrainingConfig, report: dict[str, Any], data: dict[str, Any], meta: dict[str, Any]) -> str:
    columns = CLAIM_COLUMNS if config.task == "claim_risk" else SENTIMENT_COLUMNS
    rows = "\n".join(
        f"| {name} | " + " | ".join(_fmt(values.get(c)) for c in columns) + " |"
        for name, values in report.items()
        if isinstance(values, dict) and name != "label_sources"
    )
    hyper = "\n".join(f"- `{k}`: {v}" for k, v in config.to_dict().items())
    calibration = meta.get("calibration", {})
    thresholds = meta.get("thresholds", {})
    return f"""# ClaimLens {config.task} model

## Intended use
{INTENDED_USE[config.task]}

## Data
- window: {data.get("first")} to {data.get("last")} (report dates), split by time
- rows: train {data.get("train")}, validation {data.get("validation")}, test {data.get("test")}
- label sources (test): {report.get("label_sources", {})}

## Method and hyper-parameters
- base encoder: `{meta.get("base_model")}`
- method: {config.method} ({config.profile} profile)
{hyper}

## Metrics on the held-out test rows
| model | {" | ".join(columns)} |
| --- | {" | ".join("---" for _ in columns)} |
{rows}

`baseline_tfidf_lr` is a TF-IDF + logistic-regression baseline on the text{_baseline_note(config.task)};
`oracle` is the data generator's true probability, the best any model could reach (synthetic data only).

## Calibration
- calibration parameters: {calibration}
- band thresholds (probability): {thresholds or "n/a"}

## Limitations
{LIMITATIONS}
"""


def _baseline_note(task: str) -> str:
    return "; `baseline_tfidf_fields_lr` adds the encoded claim fields" if task == "claim_risk" else ""


def _fmt(value: Any) -> str:
    return f"{value:.3f}" if isinstance(value, float) else "-" if value is None else str(value)
