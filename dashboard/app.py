"""Entry point: routes each signed-in user to the pages of their role (sign-in page otherwise).

Hiding a page here only tidies the menu; every core function a page calls checks the
role again, so a page reached some other way still cannot do what the role may not.
"""

from pathlib import Path

import streamlit as st

from core.auth import Role
from dashboard.ui import current_actor, sign_out, sso_configured, sync_session_cookie

# A local file (sent inline as a data URI): a ":material/…:" favicon is fetched from Google's font host.
FAVICON = Path(__file__).parent / "assets" / "favicon.svg"
st.set_page_config(page_title="ClaimLens", page_icon=str(FAVICON), layout="wide")

QUEUE = st.Page("pages/adjuster/queue.py", title="Triage queue", icon=":material/inbox:", url_path="queue")
REVIEW = st.Page("pages/adjuster/review.py", title="Claim review", icon=":material/fact_check:", url_path="review")
EXPLANATIONS = st.Page(
    "pages/compliance/explanations.py", title="Explanations", icon=":material/psychology:", url_path="explanations"
)
AUDIT = st.Page("pages/compliance/audit_log.py", title="Audit log", icon=":material/history:", url_path="audit")
MONITORING = st.Page(
    "pages/manager/monitoring.py", title="Monitoring", icon=":material/monitoring:", url_path="monitoring"
)
MODELS = st.Page(
    "pages/manager/models.py", title="Models and retraining", icon=":material/model_training:", url_path="models"
)
IMPORT = st.Page(
    "pages/manager/import_claims.py", title="Import claims", icon=":material/upload_file:", url_path="import"
)
USERS = st.Page("pages/admin/users.py", title="Users", icon=":material/group:", url_path="users")
PASSWORD = st.Page("pages/password.py", title="Change password", icon=":material/password:", url_path="password")

PAGES_BY_ROLE: dict[Role, dict[str, list[st.Page]]] = {
    Role.ADJUSTER: {"Claims": [QUEUE, REVIEW]},
    Role.COMPLIANCE: {"Compliance": [EXPLANATIONS, AUDIT], "Claims": [REVIEW]},
    Role.MANAGER: {"Management": [MONITORING, MODELS, IMPORT], "Claims": [QUEUE, REVIEW]},
    Role.ADMIN: {
        "Claims": [QUEUE, REVIEW],
        "Compliance": [EXPLANATIONS, AUDIT],
        "Management": [MONITORING, MODELS, IMPORT],
        "Administration": [USERS],
    },
}


def _sign_out() -> None:
    sign_out()
    if sso_configured() and st.user.get("is_logged_in"):
        st.logout()  # also end the identity provider's session cookie, or it would sign straight back in
    st.rerun()


actor = current_actor(activity=True)  # only the router runs on a click, never a fragment's refresh
sync_session_cookie()  # after current_actor, which may find the cookie spent
if actor is None:
    # The sign-in form also answers at every page's URL, so that a bookmark (or a reload after
    # the session ended) asks to sign in and then opens the page it names.
    sections = [pages for by_section in PAGES_BY_ROLE.values() for pages in by_section.values()]
    page_urls = sorted({page.url_path for pages in sections for page in pages})
    navigation = st.navigation(
        [st.Page("pages/login.py", title="Sign in", icon=":material/login:", default=True)]
        + [st.Page("pages/login.py", title="Sign in", url_path=url) for url in page_urls],
        position="hidden",
    )
else:
    sign_out_page = st.Page(_sign_out, title=f"Sign out {actor.username}", icon=":material/logout:", url_path="signout")
    if actor.must_change_password:  # an administrator set it: nothing else until the user chooses their own
        navigation = st.navigation({"Account": [PASSWORD, sign_out_page]})
    else:
        pages = dict(PAGES_BY_ROLE[actor.role])
        pages["Account"] = [PASSWORD, sign_out_page]
        navigation = st.navigation(pages)
navigation.run()
