"""The Import page: a manager uploads a claims file, sees every invalid row (row, column,
reason) before anything is written, and imports it whole or imports the valid rows and
downloads the rejected ones; each import is audited as the manager."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select
from streamlit.testing.v1 import AppTest

from core.data.generator import GeneratorConfig
from core.data.seeding import generate_import_frame
from db.models import AuditLog, Claim
from db.session import session_scope
from tests.dashboard.signing import signed_in

APP = str(Path(__file__).parents[2] / "dashboard" / "app.py")


def import_page(username: str = "max") -> AppTest:
    app = signed_in(AppTest.from_file(APP, default_timeout=60), username).run()
    app.switch_page("pages/manager/import_claims.py").run()
    assert not app.exception and app.title[0].value == "Import claims"
    return app


def claims_file(rows: int = 20, broken: int = 0) -> bytes:
    frame = generate_import_frame(GeneratorConfig(claims=rows, seed=404))
    frame["claim_number"] = [f"UPL-{i:05d}" for i in range(rows)]  # none of them stored yet
    frame["claimed_amount"] = frame["claimed_amount"].astype(object)
    for row in range(broken):
        frame.loc[row, "claimed_amount"] = "lots"
    return frame.to_csv(index=False).encode()


def stored(prefix: str = "UPL-") -> int:
    with session_scope() as session:
        return session.scalar(select(func.count()).where(Claim.claim_number.like(f"{prefix}%"))) or 0


def test_a_manager_checks_then_imports_a_valid_file_and_the_import_is_audited_as_them(scored_database: str) -> None:
    app = import_page()
    app.file_uploader(key="import_upload").upload("april.csv", claims_file(), "text/csv").run()
    assert not app.exception
    assert [s.value for s in app.success] == ["All 20 rows are valid."]
    assert stored() == 0, "checking writes nothing"
    app.button(key="import_go").click().run()
    assert not app.exception
    assert any("Imported 20 claims" in i.value for i in app.info)
    assert stored() == 20
    with session_scope() as session:
        actors = session.scalars(select(AuditLog.actor).where(AuditLog.action == "claims.imported")).all()
    assert actors[-1] == "max"
    app.run()  # the page redrawn with the same upload says what was done and imports nothing again
    assert any("Imported 20 claims" in i.value for i in app.info) and stored() == 20


def test_invalid_rows_are_listed_with_row_column_and_reason_and_block_a_whole_import(scored_database: str) -> None:
    app = import_page()
    app.file_uploader(key="import_upload").upload("may.csv", claims_file(broken=2), "text/csv").run()
    assert not app.exception
    assert [w.value for w in app.warning] == ["2 of 20 rows are invalid."]
    errors = app.dataframe[-1].value  # after the table of the columns the schema reads
    assert errors[["row", "column"]].values.tolist() == [[1, "claimed_amount"], [2, "claimed_amount"]]
    assert errors["reason"].str.startswith("must be an amount").all()
    assert app.button(key="import_go").disabled
    app.checkbox(key="import_skip").check().run()
    app.button(key="import_go").click().run()
    assert not app.exception and stored() == 18
    assert any("18 claims" in i.value and "2 rejected" in i.value for i in app.info)
