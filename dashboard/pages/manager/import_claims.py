"""Managers and administrators: upload a claims file in the active schema's columns, see
every invalid row (row, column, reason) before anything is written, then import it whole
or import the valid rows and download the rejected ones with their reasons."""

import hashlib
from collections.abc import Callable

import pandas as pd
import streamlit as st

from core.auth import Permission
from core.data import importing
from core.schema import active_schema
from dashboard.ui import actor_or_stop, attempt, plain

actor = actor_or_stop()
schema = active_schema()
st.title("Import claims")
st.caption(
    plain(f"A CSV or Parquet file with one row per claim, in the columns of the schema '{schema.name}'. ")
    + "Nothing is written until you import; a claim already stored is skipped, never duplicated."
)
with st.expander("Columns this schema reads"):
    required = set(importing.required_columns(schema))
    st.dataframe(
        pd.DataFrame(
            [
                *(
                    {"column": f.name, "type": f.type.value, "required": f.name in required, "shown as": f.display}
                    for f in schema.fields
                ),
                *(
                    [{"column": schema.label.column, "type": "fraud label", "required": False, "shown as": "—"}]
                    if schema.label
                    else []
                ),
            ]
        ),
        hide_index=True,
    )
upload = st.file_uploader("Claims file", type=["csv", "parquet", "pq"], key="import_upload")
if upload is None:
    st.stop()

data = upload.getvalue()
digest = hashlib.sha256(data).hexdigest() + schema.fingerprint()  # a changed schema checks the file again
progress = st.empty()


def rows_done(verb: str) -> Callable[[int], None]:
    def show(rows: int) -> None:
        progress.caption(f"{rows:,} rows {verb}…")

    return show


checks = st.session_state.setdefault("import_checks", {})
if digest not in checks:
    checks[digest] = attempt(
        lambda s, actor: importing.check_upload(actor=actor, name=upload.name, data=data, on_rows=rows_done("checked"))
    )
checked = checks[digest]
progress.empty()
if checked is None:
    st.stop()
if not checked.invalid:
    st.success(f"All {checked.rows:,} rows are valid.")
else:
    st.warning(f"{checked.invalid:,} of {checked.rows:,} rows are invalid.")
    shown = pd.DataFrame([{"row": e.row, "column": e.column, "reason": e.reason} for e in checked.errors])
    st.dataframe(shown, hide_index=True, key="import_errors")
    if checked.invalid > len(checked.errors):
        st.caption(f"The first {len(checked.errors)} errors are shown; fix them and check the file again.")

skip = bool(checked.invalid) and st.checkbox(
    f"Import the {checked.rows - checked.invalid:,} valid rows and skip the invalid ones", key="import_skip"
)
done = st.session_state.setdefault("import_done", {})
if digest in done:
    st.info(done[digest])
elif st.button("Import", type="primary", disabled=bool(checked.invalid) and not skip, key="import_go"):
    outcome = attempt(
        lambda s, actor: importing.import_upload(
            s, actor=actor, name=upload.name, data=data, skip_invalid=skip, on_rows=rows_done("imported")
        )
    )
    progress.empty()
    if outcome is not None:
        result, report = outcome
        done[digest] = (
            f"Imported {result.imported:,} claims and {result.messages:,} messages; "
            f"{result.skipped_existing:,} were already stored, {result.rejected:,} rejected. "
            "The worker scores them next."
        )
        if report.rejected_rows and actor.may(Permission.VIEW_PII):  # the rows hold personal data
            st.session_state["import_rejected"] = importing.rejected_csv(report)
        st.rerun()
if digest in done and not actor.may(Permission.VIEW_PII) and checked.invalid:
    st.caption("The rejected rows hold personal data: an administrator can download them.")
if digest in done and (rejected := st.session_state.get("import_rejected")):
    st.download_button(
        "Download the rejected rows with their reasons", rejected, file_name="rejected.csv", mime="text/csv"
    )
