"""The Models page's registry and model card as a manager reads them: figures to three
decimals (no 16-digit floats, no "None"), a champion below its baseline flagged, and the
comparison saying which test rows each figure is on."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from streamlit.testing.v1 import AppTest

from core import registry
from core.auth import cli_actor
from core.tasks import Task
from db.session import session_scope
from tests.dashboard.signing import signed_in

APP = str(Path(__file__).parents[2] / "dashboard" / "app.py")
FIGURE = re.compile(r"^(\d\.\d{3}|—)$")
METRICS = ("ROC-AUC", "PR-AUC", "F1", "recall", "Brier", "ECE", "accuracy", "macro-F1")


def models_page(selected_row: int | None = None) -> AppTest:
    app = signed_in(AppTest.from_file(APP, default_timeout=60), "max").run()
    app.switch_page("pages/manager/models.py")
    if selected_row is not None:  # as a click on the row would
        app.session_state["models_table"] = {"selection": {"rows": [selected_row], "columns": []}}
    return app.run()


def challenger_below_its_baseline() -> tuple[int, str]:
    """A candidate trained on 508 test rows, scored beside the current claim champion,
    that is worse than its own TF-IDF + fields baseline."""
    row = {"roc_auc": 0.825530212084834, "pr_auc": None, "f1": 0.4782608695652174, "recall": 0.45,
           "brier": 0.06852970510370075, "ece": 0.04108429499296838, "count": 508}  # fmt: skip
    baseline = {**row, "roc_auc": 0.8587434973989595, "pr_auc": 0.5623491686206454}
    with session_scope() as session:
        current = registry.champion(session, Task.CLAIM_RISK)
        assert current is not None
        metrics: dict[str, Any] = {
            "summary": {k: v for k, v in row.items() if k != "count"},
            "report": {
                "model": row,
                "baseline_tfidf_lr": {**row, "roc_auc": 0.7},
                "baseline_tfidf_fields_lr": baseline,
            },
            "comparison": {"champion_version_id": current.id, "champion": {"roc_auc": 0.8402104, "ece": 0.0312}},
        }
        version = registry.register_candidate(
            session, actor=cli_actor(), task=Task.CLAIM_RISK, artifact_path="/nowhere/claim_risk/run-99",
            base_model="tiny", method="head", metrics=metrics, parameters={}, training_run_id=None,
        )  # fmt: skip
        return version.id, f"claim_risk v{version.version}"


def test_the_registry_shows_figures_to_three_decimals_and_dashes_never_none_or_long_floats(
    scored_database: str,
) -> None:
    challenger_below_its_baseline()
    app = models_page()
    assert not app.exception and not app.error
    table = app.dataframe[0].value
    assert {"task", "version", "stage", "test rows", "ROC-AUC", "macro-F1", "against baseline"} <= set(table.columns)
    for column in (c for c in METRICS if c in table.columns):
        assert all(FIGURE.match(str(cell)) for cell in table[column]), (column, list(table[column]))
    assert "None" not in table.astype(str).to_string() and "nan" not in table.astype(str).to_string()
    weak = table[table["ROC-AUC"] == "0.826"].iloc[0]
    assert weak["PR-AUC"] == "—" and weak["test rows"] == "508"
    assert weak["against baseline"] == "⚠ below TF-IDF + fields baseline (0.859)"
    assert any("own held-out test rows" in c.value for c in app.caption)


def test_a_champion_below_its_baseline_is_flagged_on_the_page(scored_database: str) -> None:
    version_id, label = challenger_below_its_baseline()
    with session_scope() as session:
        registry.promote(session, actor=cli_actor(), version_id=version_id, override_reason="pilot needs it")
    app = models_page()
    assert not app.exception
    assert (
        f"The claim_risk champion, {label}, does not beat its baseline: roc_auc 0.826 is below the TF-IDF + fields "
        "baseline's 0.859 on the same test rows."
    ) in [w.value for w in app.warning]


def test_the_comparison_labels_which_rows_each_figure_is_on_and_shows_the_gate(scored_database: str) -> None:
    _, label = challenger_below_its_baseline()
    with session_scope() as session:
        current = registry.champion(session, Task.CLAIM_RISK)
        assert current is not None
        champion_version = current.version
    overview = models_page().dataframe[0].value
    row = int(overview.index[(overview["task"] == "claim_risk") & (overview["ROC-AUC"] == "0.826")][0])
    app = models_page(selected_row=row)
    assert not app.exception
    compare = app.dataframe[1].value  # the registry, this comparison, then the training runs
    assert list(compare.columns) == [
        f"{label} (this version)",
        f"champion v{champion_version}, same rows",
        "TF-IDF + fields baseline",
    ]
    assert compare.loc["ROC-AUC"].tolist() == ["0.826", "0.840", "0.859"]
    assert compare.loc["PR-AUC"].tolist() == ["—", "—", "0.562"]
    caption = next(c.value for c in app.caption if c.value.startswith("Every figure here"))
    assert caption.startswith(f"Every figure here is on {label}'s 508 test rows.")
    assert "The champion's figures in the registry above are on its own test rows" in caption
    (gate,) = [w.value for w in app.warning if w.value.startswith("The promotion gate fails")]
    assert "does not beat its baseline: roc_auc 0.826 is below the TF-IDF + fields baseline's 0.859" in gate
    # Its card is missing (the folder is gone): said with the path under the model directory, or its name.
    assert [e.value for e in app.error] == [f"the model card of {label} is missing (run-99/README.md)"]


def test_the_champions_card_is_shown_without_the_servers_paths(scored_database: str, tmp_path: Path) -> None:
    overview = models_page().dataframe[0].value
    row = int(overview.index[(overview["task"] == "claim_risk") & (overview["stage"] == "champion")][0])
    app = models_page(selected_row=row)
    assert not app.exception and not app.error
    card = next(m.value for m in app.markdown if m.value.startswith("# ClaimLens claim_risk model"))
    assert "## Metrics on the held-out test rows" in card and "Against the" in card
    assert "/tmp/" not in card and "{" not in card
