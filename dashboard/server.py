"""The web server: the Streamlit app (`dashboard/app.py`) with the routes that set and clear
the HttpOnly session cookie (`dashboard/session_cookie.py`). Serve it with
`streamlit run dashboard/server.py`; served as `streamlit run dashboard/app.py` instead,
sign-in still works but a reload signs the user out, as there is no cookie."""

import streamlit as st

from dashboard import session_cookie

app = st.App("app.py", routes=session_cookie.routes())
