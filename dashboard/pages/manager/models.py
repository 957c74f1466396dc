"""Managers: the model registry, retraining runs (queue, watch, cancel), challenger
against champion, promotion through the gate (or override with a reason), rollback."""

import pandas as pd
import streamlit as st

from core import jobs, registry, serving
from core.run_spec import METHODS, PROFILES
from core.tasks import Task
from dashboard.background import scoring_banner
from dashboard.ui import actor_or_stop, attempt, current_actor, rerun_fragment
from db.models import RunStatus, Stage

actor = actor_or_stop()
st.title("Models and retraining")
TASKS = {"Claim risk": Task.CLAIM_RISK, "Sentiment": Task.SENTIMENT}
scoring_banner(actor)


def _rescoring_note(version_id: int, label: str) -> None:
    count = attempt(lambda s, actor: serving.rescoring_needed(s, actor=actor, version_id=version_id))
    if count:
        st.info(
            f"{label} will rescore {count:,} open claims in the background (progress on this page); until it "
            "has, the triage queue keeps showing the current champion's predictions for them, marked as such. "
            "Decided claims keep the prediction they were decided on."
        )


@st.dialog("Promote model version")
def promote_dialog(version_id: int, label: str, gate: registry.GateResult) -> None:
    """Confirm a promotion; `gate` is what the page showed for this version."""
    st.write(f"Promote **{label}** to champion?")
    if gate.passed:
        st.success("The gate passes: " + ", ".join(f"{k} {v:.3f}" for k, v in gate.challenger.items()))
        reason = ""
    else:
        st.warning("The gate fails: " + "; ".join(gate.reasons))
        reason = st.text_area("Override reason (required to promote anyway)", key="promote_override")
    _rescoring_note(version_id, label)
    if st.button("Promote", type="primary", key="promote_confirm") and attempt(
        lambda s, actor: registry.promote(s, actor=actor, version_id=version_id, override_reason=reason or None)
    ):
        st.rerun()


@st.dialog("Roll back champion")
def rollback_dialog(task: str) -> None:
    target = attempt(lambda s, actor: registry.rollback_target(s, actor=actor, task=task))
    if target is None:
        st.warning(f"There is no earlier {task} champion to restore.")
        return
    st.write(f"Restore {task} v{target.version}, the previous champion?")
    _rescoring_note(target.id, f"{task} v{target.version}")
    reason = st.text_area("Reason (required)", key="rollback_reason")
    if st.button("Roll back", type="primary", key="rollback_confirm") and attempt(
        lambda s, actor: registry.rollback(s, actor=actor, task=task, reason=reason)
    ):
        st.rerun()


METRIC_LABELS = {
    "roc_auc": "ROC-AUC", "pr_auc": "PR-AUC", "f1": "F1", "recall": "recall", "brier": "Brier", "ece": "ECE",
    "accuracy": "accuracy", "macro_f1": "macro-F1",
}  # fmt: skip


def _figure(value: float | None) -> str:
    return "—" if value is None else f"{value:.3f}"


def _against_baseline(check: registry.BaselineCheck | None) -> str:
    if check is None:
        return "—"
    verdict = "⚠ below" if check.below else "above"
    return f"{verdict} {check.label} ({check.baseline_value:.3f})"


def _comparison(
    chosen: registry.VersionOverview, current: registry.VersionOverview | None, gate: registry.GateResult
) -> None:
    """The chosen version beside the champion (`current`) and its strongest baseline, all
    on the chosen version's test rows, saying which rows the figures are computed on."""
    rows = f"{chosen.test_rows:,} test rows" if chosen.test_rows else "test rows"
    columns = {f"{chosen.label} (this version)": chosen.summary}
    if gate.champion and current is not None:
        columns[f"champion v{current.version}, same rows"] = {k: gate.champion.get(k) for k in chosen.summary}
    if chosen.baseline is not None:
        columns[chosen.baseline.label] = chosen.baseline_summary
    frame = pd.DataFrame(
        {
            name: {METRIC_LABELS.get(k, k): _figure(values.get(k)) for k in chosen.summary}
            for name, values in columns.items()
        }
    )
    st.dataframe(frame, key="models_compare")
    note = f"Every figure here is on {chosen.label}'s {rows}."
    if gate.champion and current is not None:
        note += (
            " The champion's figures in the registry above are on its own test rows from when it was trained, "
            "so they differ from its figures here."
        )
    st.caption(note)
    if chosen.stage != Stage.CHAMPION:
        if gate.passed:
            st.success("The promotion gate passes.")
        else:
            st.warning("The promotion gate fails: " + "; ".join(gate.reasons))


overview = attempt(lambda s, actor: registry.overview(s, actor=actor)) or []
metric_keys = list(dict.fromkeys(key for v in overview for key in v.summary))
table = pd.DataFrame(
    [
        {
            "id": v.id,
            "task": v.task,
            "version": v.version,
            "stage": v.stage,
            "against baseline": _against_baseline(v.baseline),
            "test rows": f"{v.test_rows:,}" if v.test_rows else "—",
            **{METRIC_LABELS.get(k, k): _figure(v.summary.get(k)) for k in metric_keys},
            "method": v.method,
            "created": f"{v.created_at:%Y-%m-%d %H:%M}",
        }
        for v in overview
    ]
)
st.subheader("Registry")
champions = {v.task: v for v in overview if v.stage == Stage.CHAMPION}
for current in champions.values():
    if current.baseline is not None and current.baseline.below:
        st.warning(
            f"The {current.task} champion, {current.label}, does not beat its baseline: {current.baseline.describe()}."
        )
if table.empty:
    st.info("No model versions yet: queue a training run below.")
else:
    st.caption(
        "Each version's metrics are on its own held-out test rows when it was trained; versions trained on "
        "different windows are not directly comparable. Select one to compare it with the champion on the same rows."
    )
    picked = st.dataframe(
        table,
        hide_index=True,
        on_select="rerun",
        selection_mode="single-row",
        column_order=[c for c in table.columns if c != "id"],
        key="models_table",
    )
    if picked.selection.rows:
        row = table.iloc[picked.selection.rows[0]]
        chosen = overview[picked.selection.rows[0]]
        label = f"{row['task']} v{row['version']}"
        gate = attempt(lambda s, actor: registry.compare_with_champion(s, actor=actor, version_id=int(row["id"])))
        if gate is not None:
            _comparison(chosen, champions.get(chosen.task), gate)
        promote, rollback, _ = st.columns(3)
        if (
            gate is not None
            and row["stage"] != Stage.CHAMPION
            and promote.button(f"Promote {label}", key="models_promote")
        ):
            promote_dialog(int(row["id"]), label, gate)
        if row["stage"] == Stage.CHAMPION and rollback.button(f"Roll back {row['task']}", key="models_rollback"):
            rollback_dialog(str(row["task"]))
        with st.expander(f"Model card: {chosen.label}"):
            card = attempt(lambda s, actor: registry.model_card(s, actor=actor, version_id=chosen.id))
            if card:
                st.markdown(card)

st.subheader("Retrain")
with st.form("retrain", border=True):
    columns = st.columns(4)
    task = columns[0].selectbox("Task", list(TASKS), key="retrain_task")
    profile = columns[1].selectbox("Profile", PROFILES, key="retrain_profile")
    method = columns[2].selectbox("Method", ["profile default", *METHODS], key="retrain_method")
    epochs = columns[3].number_input("Max epochs", min_value=1, max_value=200, value=None, key="retrain_epochs")
    window = st.date_input("Data window (report dates; empty = all)", value=(), key="retrain_window")
    queued = st.form_submit_button("Queue training run", type="primary", key="retrain_submit")
if queued:
    run = attempt(
        lambda s, actor: jobs.queue_training(
            s,
            actor=actor,
            task=TASKS[task],
            profile=profile,
            method=None if method == "profile default" else method,
            epochs=epochs,
            since=window[0] if len(window) > 0 else None,
            until=window[1] if len(window) > 1 else None,
        )
    )
    if run is not None:
        st.success(f"Queued training run {run.id}; the worker picks it up.")


CANCEL_NOTICE = "runs_cancel_notice"  # the run this browser session asked to cancel


RUNS_REFRESH_SECONDS = 2


def runs() -> None:
    """Training runs with their phase and progress, refreshed every few seconds while one
    is in progress (the rest of the page stays put). A cancel shows as "cancelling…" at
    once, for everyone."""
    viewer = current_actor()  # re-read on every refresh: an ended session shows nothing
    if viewer is None:
        return
    recent = attempt(lambda s, actor: jobs.run_views(s, actor=actor))
    if recent is None:
        return
    if not recent:
        st.caption("No training runs yet.")
        return
    for view in recent:
        if view.status == jobs.CANCELLING:
            st.info(f"Cancelling run {view.run_id}… the worker stops it at its next progress check, within seconds.")
        elif view.run_id == st.session_state.get(CANCEL_NOTICE) and view.status == RunStatus.CANCELLED:
            st.success(f"Run {view.run_id} cancelled.")
    st.dataframe(
        pd.DataFrame(
            [
                {
                    "run": v.run_id,
                    "task": v.task,
                    "method": v.method,
                    "status": v.status,
                    "phase": v.phase,
                    "progress": v.fraction,
                    "detail": v.detail,
                    "requested": f"{v.requested_at:%Y-%m-%d %H:%M:%S}",
                    "error": v.error.splitlines()[0] if v.error else "",
                }
                for v in recent
            ]
        ),
        column_config={
            "progress": st.column_config.ProgressColumn("progress", min_value=0.0, max_value=1.0, format="percent"),
            "detail": st.column_config.TextColumn("detail", width="large"),
        },
        hide_index=True,
        key="runs_table",
    )
    cancellable = [v.run_id for v in recent if v.cancellable]
    if cancellable:
        chosen = st.selectbox("Cancel run", cancellable, key="runs_cancel_choice")
        if st.button("Cancel", key="runs_cancel") and attempt(
            lambda s, actor: jobs.request_cancel(s, actor=actor, run_id=int(chosen))
        ):
            st.session_state[CANCEL_NOTICE] = int(chosen)
            rerun_fragment()  # show "cancelling…" now, not at the next refresh


st.subheader("Training runs")
# Refreshing by itself only while a run can change: an idle refresh redraws the table every
# few seconds for nothing (bench_pages: it kept the Models page busy). A run queued here
# reruns the page, which starts the refresh.
in_progress = any(v.in_progress for v in attempt(lambda s, actor: jobs.run_views(s, actor=actor)) or [])
st.fragment(runs, run_every=RUNS_REFRESH_SECONDS if in_progress else None)()
