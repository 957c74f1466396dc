"""The model card written into every model folder (README.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from core import registry
from core.config import get_settings
from core.run_spec import TrainingConfig
from core.tasks import Task

CLAIM_COLUMNS = ("roc_auc", "pr_auc", "f1", "recall", "brier", "ece")
SENTIMENT_COLUMNS = ("accuracy", "macro_f1")
INTENDED_USE = {
    Task.CLAIM_RISK: (
        "Ranks incoming insurance claims by the probability that they are fraudulent, so adjusters review the "
        "riskiest first. It supports a human decision; it never decides a claim on its own."
    ),
    Task.SENTIMENT: "Reads claimants' messages as negative, neutral or positive, to spot unhappy customers early.",
}
LIMITATIONS = (
    "- Trained on the data window above; claims unlike it (new regions, products, fraud patterns) may be scored "
    "poorly: watch the drift reports.\n"
    "- Labels are partly adjusters' decisions, which carry their own biases; undetected fraud is labelled honest.\n"
    "- Probabilities are calibrated on the validation window; recalibrate when the base rate moves."
)


def render(config: TrainingConfig, report: dict[str, Any], data: dict[str, Any], meta: dict[str, Any]) -> str:
    columns = CLAIM_COLUMNS if config.task == Task.CLAIM_RISK else SENTIMENT_COLUMNS
    rows = "\n".join(
        f"| {name} | " + " | ".join(_fmt(values.get(c)) for c in columns) + " |"
        for name, values in report.items()
        if isinstance(values, dict) and name != "label_sources"
    )
    settings = config.to_dict()
    settings["base_model"] = _source(settings.get("base_model"))
    hyper = "\n".join(f"- `{k}`: {'-' if v is None else v}" for k, v in settings.items())
    check = registry.baseline_check(config.task, report)
    return f"""# ClaimLens {config.task} model
{_baseline_warning(check)}
## Intended use
{INTENDED_USE[Task(config.task)]}

## Data
- window: {data.get("first")} to {data.get("last")} (report dates), split by time
- rows: train {data.get("train")}, validation {data.get("validation")}, test {data.get("test")}
- label sources (test): {_pairs(report.get("label_sources")) or "not recorded"}

## Method and hyper-parameters
- base encoder: `{_source(meta.get("base_model"))}`
- method: {config.method} ({config.profile} profile)
{hyper}

## Metrics on the held-out test rows
| model | {" | ".join(columns)} |
| --- | {" | ".join("---" for _ in columns)} |
{rows}

{_baseline_note(config.task, "oracle" in report)}

{_against_baseline(check)}

## Calibration
- calibration parameters: {_pairs(meta.get("calibration")) or "n/a"}
- band thresholds (probability): {_pairs(meta.get("thresholds")) or "n/a"}

## Limitations
{LIMITATIONS}
"""


def _baseline_note(task: str, oracle: bool) -> str:
    note = "`baseline_tfidf_lr` is a TF-IDF + logistic-regression baseline on the text"
    if task == Task.CLAIM_RISK:
        note += "; `baseline_tfidf_fields_lr` adds the encoded claim fields"
    if oracle:
        note += (
            ";\n`oracle` is the data generator's true probability, the best any model could reach (synthetic data only)"
        )
    return note + "."


def _baseline_warning(check: registry.BaselineCheck | None) -> str:
    if check is None or not check.below:
        return ""
    return (
        f"\n> **This model does not beat its baseline**: {check.describe()}. The promotion gate fails it "
        "unless a manager overrides it with a recorded reason.\n"
    )


def _against_baseline(check: registry.BaselineCheck | None) -> str:
    if check is None:
        return "Against the baselines: no baseline figure on record."
    verdict = "does not beat" if check.below else "beats"
    return f"Against the strongest baseline: the model {verdict} it ({check.describe()})."


def _source(name_or_path: str | None) -> str:
    """A base model as a hub id, a package or a folder name: an absolute path of the
    training machine says nothing to a reader and reveals the server's layout."""
    if not name_or_path:
        return "-"
    path = Path(name_or_path)
    if not path.is_absolute():
        return name_or_path
    for packages in ("site-packages", "dist-packages"):
        if packages in path.parts:
            return "/".join(path.parts[path.parts.index(packages) + 1 :]) + " (installed package)"
    try:
        return str(path.relative_to(get_settings().model_dir.resolve())) + " (in the model directory)"
    except ValueError:
        return path.name


def _pairs(values: dict[str, Any] | None) -> str:
    return ", ".join(f"{key} {_fmt(value)}" for key, value in (values or {}).items())


def _fmt(value: Any) -> str:
    return f"{value:.3f}" if isinstance(value, float) else "-" if value is None else str(value)
