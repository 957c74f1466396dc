"""The adjuster's queue and review pages through AppTest on the small scored database: no
decision preselected, long notes kept up to the limit with a message, a stale tab told who
decided and its note kept as a comment, fields in labelled sections, messages in full,
notes never turned into links (here and on the compliance page), queue totals and the SIU
referrals view."""

from __future__ import annotations

import json
import re

from sqlalchemy import func, select
from streamlit.testing.v1 import AppTest

from core import review, triage
from core.auth import cli_actor
from core.data import importing
from core.data.generator import GeneratorConfig
from core.data.seeding import generate_import_frame
from dashboard.ui import WORD_JOINER, plain
from db.models import AuditLog, Claim, ClaimComment, Review
from db.session import session_scope
from tests.core.test_triage import actor
from tests.dashboard.test_app import app_as, open_page

HOSTILE_NOTE = (
    '=HYPERLINK("http://evil.example","x") see http://evil.example or www.evil.example, '
    "mail bob@evil.example :smile: :material/home:"
)


def review_claim(username: str, claim_id: int) -> AppTest:
    app = app_as(username)
    app.session_state["claim_id"] = claim_id
    app.run()
    return open_page(app, "review")


def taken_claim(username: str = "ada") -> tuple[AppTest, int]:
    """`username` takes the next claim from the queue; the review page is open on it."""
    app = app_as(username).run()
    app.button(key="take_next").click().run()
    claim_id = app.session_state["claim_id"]
    app.switch_page("pages/adjuster/review.py").run()  # AppTest does not follow st.switch_page
    assert not app.exception
    return app, claim_id


def decide_on_page(app: AppTest, claim_id: int, decision: str, reason_code: str, note: str = "") -> AppTest:
    app.radio(key=f"review_decision_{claim_id}").set_value(decision).run()
    app.selectbox(key=f"review_reason_{claim_id}").set_value(reason_code)
    if note:
        app.text_area(key=f"review_note_{claim_id}").input(note)
    app.button(key="review_submit").click().run()
    assert not app.exception
    return app


def reviews_of(claim_id: int) -> list[Review]:
    with session_scope() as session:
        return list(session.scalars(select(Review).where(Review.claim_id == claim_id).order_by(Review.id)))


def messages(elements) -> list[str]:  # type: ignore[no-untyped-def]
    return [e.value for e in elements]


def as_rendered(markdown: str) -> str:
    """The text Streamlit's markdown makes of a source: backslash escapes resolved."""
    return re.sub(r"\\(.)", r"\1", markdown)


def would_link(markdown: str) -> list[str]:
    """What the browser's markdown (remark-gfm, remark-emoji) would turn into a link, an
    e-mail link, an emoji or an icon: its own patterns, run on the rendered text."""
    text = as_rendered(markdown)
    return [
        *re.findall(r"(?:https?://|www(?=\.))[-.\w]+", text, re.IGNORECASE),
        *re.findall(r"[-.\w+]+@[-\w]+(?:\.[-\w]+)+", text),
        *re.findall(r":[a-z][\w+-]*(?:/[\w-]+)?:", text, re.IGNORECASE),  # ":smile:", ":material/home:"
    ]


def test_no_decision_is_preselected_and_recording_without_one_is_refused(scored_database: str) -> None:
    app, claim_id = taken_claim()
    assert app.radio(key=f"review_decision_{claim_id}").value is None
    assert app.selectbox(key=f"review_reason_{claim_id}").disabled
    app.button(key="review_submit").click().run()
    assert not app.exception and messages(app.error) == ["Choose a decision."]
    assert reviews_of(claim_id) == []
    app.radio(key=f"review_decision_{claim_id}").set_value("deny").run()
    app.button(key="review_submit").click().run()
    assert messages(app.error) == ["Choose a reason code."] and reviews_of(claim_id) == []


def test_a_note_over_the_limit_is_cut_to_it_with_a_message_and_the_rest_shown(scored_database: str) -> None:
    limit = review.MAX_NOTE_LENGTH
    pasted = "".join(f"line {i:05d} of the pasted file. " for i in range(800))[: 2 * limit]
    app, claim_id = taken_claim()
    app.radio(key=f"review_decision_{claim_id}").set_value("deny").run()
    app.selectbox(key=f"review_reason_{claim_id}").set_value("inflated_amount")
    app.text_area(key=f"review_note_{claim_id}").input(pasted)
    app.button(key="review_submit").click().run()  # pasted and submitted in one go
    assert not app.exception
    assert app.text_area(key=f"review_note_{claim_id}").value == pasted[:limit]
    assert any(f"{len(pasted):,} characters, over the limit of {limit:,}" in w.value for w in app.warning)
    assert [c.value for c in app.code] == [pasted[limit:]], "the part that did not fit is there to copy"
    assert any("cut to fit" in e for e in messages(app.error)) and reviews_of(claim_id) == []
    assert f"{limit:,} of {limit:,} characters" in messages(app.caption)
    app.button(key="review_submit").click().run()  # the adjuster has seen it: now it records
    [stored] = reviews_of(claim_id)
    assert stored.note == pasted[:limit].strip()


def test_a_stale_tab_is_told_who_decided_what_and_keeps_its_note_as_a_comment(scored_database: str) -> None:
    first, claim_id = taken_claim("ada")
    second = review_claim("ada", claim_id)  # the same adjuster's second tab, opened before the decision
    second.radio(key=f"review_decision_{claim_id}").set_value("approve").run()
    second.selectbox(key=f"review_reason_{claim_id}").set_value("covered_loss").run()
    second.text_area(key=f"review_note_{claim_id}").input("Receipts match the invoice.").run()
    decide_on_page(first, claim_id, "deny", "staged_incident")
    second.button(key="review_submit").click().run()
    assert not second.exception
    [warning] = messages(second.warning)
    assert re.search(
        r"ada decided it: \*\*deny \(Staged incident\)\*\* at \d{4}-\d\d-\d\d \d\d:\d\d UTC\. "
        r"Your decision was not recorded\. Your note is kept below",
        warning,
    ), warning
    assert second.text_area(key=f"review_comment_{claim_id}_0").value == "Receipts match the invoice."
    assert [r.decision for r in reviews_of(claim_id)] == ["deny"]
    second.button(key="review_add_comment").click().run()
    assert not second.exception and "Comment added." in messages(second.success)
    with session_scope() as session:
        assert session.scalars(select(ClaimComment.text).where(ClaimComment.claim_id == claim_id)).all() == [
            "Receipts match the invoice."
        ]
        assert session.scalar(select(func.count()).where(AuditLog.action == "claim.commented")) == 1
    assert not second.warning, "once the note is saved the tab is up to date"
    assert second.text_area(key=f"review_comment_{claim_id}_1").value == "", "an empty box for the next comment"
    assert any(
        "comment by ada" in m and "Receipts match the invoice" in as_rendered(m) for m in messages(second.markdown)
    )


def test_notes_are_never_links_on_the_review_or_the_compliance_page(scored_database: str) -> None:
    app, claim_id = taken_claim()
    decide_on_page(app, claim_id, "deny", "staged_incident", HOSTILE_NOTE)
    assert reviews_of(claim_id)[0].note == HOSTILE_NOTE  # stored as typed
    for page in (review_claim("ada", claim_id), review_claim("cora", claim_id)):
        shown = [m for m in messages(page.markdown) if "evil" in m]
        assert shown and all(not would_link(m) for m in shown), [would_link(m) for m in shown]
        assert any(HOSTILE_NOTE in as_rendered(m).replace("\u2060", "") for m in shown), "the note reads as typed"
    with session_scope() as session:
        number = session.get(Claim, claim_id).claim_number  # type: ignore[union-attr]
    compliance = open_page(app_as("cora").run(), "explanations")
    compliance.text_input(key="explanations_claim_number").input(number).run()
    shown = [m for m in messages(compliance.markdown) if "evil" in m]
    assert shown and all(not would_link(m) for m in shown), [would_link(m) for m in shown]


def test_the_claim_reads_in_labelled_sections_with_messages_in_full(scored_database: str) -> None:
    app, claim_id = taken_claim()
    detail = _detail(claim_id)
    markdown = messages(app.markdown)
    for section in detail.sections:
        assert f"**{section.title}**" in markdown
        [block] = [m for m in markdown if m.startswith(f":gray[{section.rows[0][0]}:]")]
        for label, value in section.rows:
            assert f":gray[{label}:] " in block and value in as_rendered(block).replace("\u2060", "")
    assert not any("claimed_amount" in m or "243300.0" in m for m in markdown), "no snake_case or raw floats"
    assert detail.messages, "the scored world gives every claim messages"
    for m in detail.messages:
        assert any(as_rendered(md).replace("\u2060", "") == m.text.replace("\n", "  \n") for md in markdown)
        assert any(f"{m.sentiment} ({m.confidence:.0%} confident)" in c for c in messages(app.caption))


def _detail(claim_id: int) -> review.ClaimDetail:
    with session_scope() as session:
        return review.claim_detail(session, actor=actor("adjuster"), claim_id=claim_id, record_view=False)


def test_the_queue_says_how_many_claims_match_and_formats_its_columns(scored_database: str) -> None:
    app = open_page(app_as("ada").run(), "queue")
    assert not app.exception
    with session_scope() as session:
        total = triage.count_matching(session, actor=actor("adjuster")).total
    assert total > 25, "the scored world has more than one page of flagged claims"
    assert f"{total:,} matching claims · page 1 of {-(-total // 25)}" in messages(app.caption)
    columns = json.loads(app.dataframe[0].proto.columns)
    assert columns["Claimed"]["type_config"]["format"] == "dollar"  # the amount, under its schema label
    assert "Priority" not in columns  # the order says it; the room goes to the top reason
    assert all(isinstance(columns[c].get("width"), int) for c in ("Status", "Assigned to", "SLA", "Claim"))
    fixed = sum(columns[c]["width"] for c in columns if isinstance(columns[c].get("width"), int))
    assert fixed <= 720, "at a 1,400 px window the top reason keeps about 220 px"
    assert app.dataframe[0].proto.column_order[-1] == "Top reason", "the long text goes last"


def test_a_decision_that_leaves_the_claim_open_gives_the_next_form_an_empty_note_box(scored_database: str) -> None:
    app, claim_id = taken_claim("ada")
    decide_on_page(app, claim_id, "request_info", "missing_documents", "Asked for the repair invoice.")
    # A box under the old key would keep the saved note in the browser, though emptied here.
    assert f"review_note_{claim_id}" not in [t.key for t in app.text_area]
    assert [t.value for t in app.text_area if t.key == f"review_note_{claim_id}_1"] == [""]


def test_a_referral_moves_to_the_siu_view_where_siu_records_the_outcome(scored_database: str) -> None:
    app, claim_id = taken_claim("ada")
    decide_on_page(app, claim_id, "refer_siu", "ring_pattern", "Same bank account as three other claims.")
    # The referrer gets no outcome form (they cannot clear what they suspect) and is told why.
    assert not [r for r in app.radio if r.key == f"review_decision_{claim_id}"] and not app.text_area
    assert "You referred this claim to SIU: another reviewer records its outcome." in messages(app.info)
    with session_scope() as session:
        claim = session.get(Claim, claim_id)
        assert claim is not None and (claim.status, claim.assigned_to_id) == ("siu_review", None)
    queue = open_page(app_as("abe").run(), "queue")
    assert claim_id not in set(queue.dataframe[0].value["id"])
    queue.radio(key="queue_view").set_value("SIU referrals").run()
    assert not queue.exception and list(queue.dataframe[0].value["id"]) == [claim_id]
    assert list(queue.dataframe[0].value["Status"]) == ["SIU review"]
    siu = review_claim("abe", claim_id)
    outcome = siu.radio(key=f"review_decision_{claim_id}")
    assert outcome.label == "SIU outcome" and outcome.options == ["confirmed fraud: deny", "cleared: approve"]
    assert outcome.value is None
    decide_on_page(siu, claim_id, "deny", "siu_confirmed_fraud", "Ring confirmed by SIU.")
    assert "Recorded: confirmed fraud: deny (SIU confirmed fraud)." in messages(siu.success)
    assert [(r.decision, r.reason_code) for r in reviews_of(claim_id)] == [
        ("refer_siu", "ring_pattern"),
        ("deny", "siu_confirmed_fraud"),
    ]
    with session_scope() as session:
        assert session.get(Claim, claim_id).status == "decided"  # type: ignore[union-attr]


def test_a_reload_opens_the_claim_in_the_address_again(scored_database: str) -> None:
    first, claim_id = taken_claim("ada")
    number = first.query_params["claim"]
    with session_scope() as session:
        assert session.get(Claim, claim_id).claim_number == number  # type: ignore[union-attr]
    reloaded = app_as("ada")  # a new browser session: nothing in its state but the address
    reloaded.query_params["claim"] = number
    reloaded.run()
    reloaded = open_page(reloaded, "review")
    assert not reloaded.exception and reloaded.session_state["claim_id"] == claim_id
    assert reloaded.radio(key=f"review_decision_{claim_id}").options  # the decision form, on that claim


def test_an_address_with_an_unknown_claim_number_says_so(scored_database: str) -> None:
    app = app_as("ada")
    app.query_params["claim"] = "CLM-NOPE"
    app = open_page(app.run(), "review")
    assert not app.exception and "no claim numbered 'CLM-NOPE'" in " ".join(messages(app.error))
    assert "Open a claim from the triage queue, or type its number." in messages(app.info)


HOSTILE_NUMBER = "![](https://e.vil/t.png)"


def test_hostile_claim_numbers_and_channels_are_shown_as_text(scored_database: str) -> None:
    frame = generate_import_frame(GeneratorConfig(claims=1, seed=99))
    frame.loc[0, "claim_number"] = HOSTILE_NUMBER
    message = {"sent_at": "2026-01-05T10:00:00", "channel": "[x](//e.vil)", "text": "Any news?"}
    frame.loc[0, "messages"] = json.dumps([message])
    with session_scope() as session:
        importing.import_claims(session, actor=cli_actor(), frame=frame, source="hostile.csv")
        claim_id = session.scalar(select(Claim.id).where(Claim.claim_number == HOSTILE_NUMBER))
    app = review_claim("ada", claim_id)  # type: ignore[arg-type]
    assert not app.exception
    [heading] = [h.value for h in app.subheader]
    assert heading.startswith(plain(HOSTILE_NUMBER)) and "![](" not in heading
    assert as_rendered(plain(HOSTILE_NUMBER)).replace(WORD_JOINER, "") == HOSTILE_NUMBER  # it reads as typed
    captions = [c.value for c in app.caption if "Any news" not in c.value]
    assert any(plain("[x](//e.vil)") in c for c in captions) and not any("[x](//e.vil)" in c for c in captions)


def test_after_asking_for_information_the_form_is_empty_so_a_second_click_records_nothing(
    scored_database: str,
) -> None:
    app, claim_id = taken_claim()
    decide_on_page(app, claim_id, "request_info", "missing_documents")
    assert len(reviews_of(claim_id)) == 1
    fresh = app.radio(key=f"review_decision_{claim_id}_1")
    assert fresh.value is None and app.selectbox(key=f"review_reason_{claim_id}_1").disabled
    app.button(key="review_submit").click().run()  # the walk's double click, six seconds later
    assert not app.exception and messages(app.error) == ["Choose a decision."]
    assert len(reviews_of(claim_id)) == 1
