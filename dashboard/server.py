"""The web server: the Streamlit app (`dashboard/app.py`) with the routes that set and clear
the HttpOnly session cookie (`dashboard/session_cookie.py`). Serve it with
`streamlit run dashboard/server.py`; served as `streamlit run dashboard/app.py` instead,
sign-in still works but a reload signs the user out, as there is no cookie."""

import importlib
import threading

import streamlit as st

from dashboard import session_cookie

# Pages reach the model code (torch, transformers, shap: about 5 s of imports on a 2-core
# CPU) through these modules: the claim review and Explanations pages through scoring, the
# Models page through the training options. Imported once at start, on a thread, the first
# person to open such a page does not wait for them (bench_pages: take next -> review).
MODEL_CODE = ("core.scoring", "training.config")


def _import_model_code() -> None:
    for name in MODEL_CODE:
        importlib.import_module(name)


threading.Thread(target=_import_model_code, name="import-model-code", daemon=True).start()
app = st.App("app.py", routes=session_cookie.routes())
