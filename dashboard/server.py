"""The web server: the Streamlit app (`dashboard/app.py`) with the routes that set and clear
the HttpOnly session cookie (`dashboard/session_cookie.py`). Serve it with
`streamlit run dashboard/server.py`; served as `streamlit run dashboard/app.py` instead,
sign-in still works but a reload signs the user out, as there is no cookie."""

import streamlit as st

import core.run_spec

# Pages reach the model code (torch, transformers, shap: about 6 s of imports on a 2-core
# CPU) through these modules: the claim review and Explanations pages through scoring, the
# Models page through the training options. Imported here, before the server listens, the
# first person to open such a page does not wait for them, and no page load competes with
# the import for the CPU (bench_pages: take next -> review).
import core.scoring  # noqa: F401
from dashboard import session_cookie

app = st.App("app.py", routes=session_cookie.routes())
