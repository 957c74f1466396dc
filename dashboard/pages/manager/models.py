"""Managers: the model registry, retraining runs (queue, watch, cancel), challenger
against champion, promotion through the gate (or override with a reason), rollback."""

import pandas as pd
import streamlit as st

from core import jobs, registry
from dashboard.ui import actor_or_stop, attempt
from training.config import METHODS, PROFILES

actor = actor_or_stop()
st.title("Models and retraining")
TASKS = {"Claim risk": registry.CLAIM_TASK, "Sentiment": registry.SENTIMENT_TASK}


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
    if st.button("Promote", type="primary", key="promote_confirm") and attempt(
        lambda s: registry.promote(s, actor=actor, version_id=version_id, override_reason=reason or None)
    ):
        st.rerun()


@st.dialog("Roll back champion")
def rollback_dialog(task: str) -> None:
    st.write(f"Restore the previous {task} champion?")
    reason = st.text_area("Reason (required)", key="rollback_reason")
    if st.button("Roll back", type="primary", key="rollback_confirm") and attempt(
        lambda s: registry.rollback(s, actor=actor, task=task, reason=reason)
    ):
        st.rerun()


versions = attempt(lambda s: registry.versions(s)) or []
table = pd.DataFrame(
    [
        {
            "id": v.id,
            "task": v.task,
            "version": v.version,
            "stage": v.stage,
            "method": v.method,
            "created": v.created_at,
            **{k: val for k, val in (v.metrics or {}).get("summary", {}).items() if isinstance(val, int | float)},
        }
        for v in versions
    ]
)
st.subheader("Registry")
if table.empty:
    st.info("No model versions yet: queue a training run below.")
else:
    picked = st.dataframe(table, hide_index=True, on_select="rerun", selection_mode="single-row", key="models_table")
    if picked.selection.rows:
        row = table.iloc[picked.selection.rows[0]]
        label = f"{row['task']} v{row['version']}"
        compare, promote, rollback = st.columns(3)
        with compare:
            gate = attempt(lambda s: registry.compare_with_champion(s, actor=actor, version_id=int(row["id"])))
        if gate is not None:
            compare.dataframe(
                pd.DataFrame({"challenger": gate.challenger, "champion": gate.champion}), key="models_compare"
            )
            if row["stage"] != "champion" and promote.button(f"Promote {label}", key="models_promote"):
                promote_dialog(int(row["id"]), label, gate)
        if row["stage"] == "champion" and rollback.button(f"Roll back {row['task']}", key="models_rollback"):
            rollback_dialog(str(row["task"]))

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
        lambda s: jobs.queue_training(
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


@st.fragment(run_every=3)
def runs() -> None:
    """Training runs, refreshed every few seconds while the rest of the page stays put."""
    recent = attempt(lambda s: jobs.recent_runs(s, actor=actor))
    if recent is None:
        return
    if not recent:
        st.caption("No training runs yet.")
        return
    st.dataframe(
        pd.DataFrame(
            [
                {
                    "run": r.id,
                    "task": r.task,
                    "method": r.method,
                    "status": r.status,
                    "progress": _progress(r.progress),
                    "requested": r.requested_at,
                    "error": r.error or "",
                }
                for r in recent
            ]
        ),
        hide_index=True,
        key="runs_table",
    )
    active = [r.id for r in recent if r.status in jobs.ACTIVE]
    if active:
        chosen = st.selectbox("Cancel run", active, key="runs_cancel_choice")
        if st.button("Cancel", key="runs_cancel") and attempt(
            lambda s: jobs.request_cancel(s, actor=actor, run_id=int(chosen))
        ):
            st.success(f"Cancel requested for run {chosen}.")


def _progress(progress: dict) -> str:  # type: ignore[type-arg]
    if not progress:
        return ""
    parts = [f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v}" for k, v in progress.items()]
    return ", ".join(parts[:5])


st.subheader("Training runs")
runs()
