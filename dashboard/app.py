"""Entry point: routes to the pages. (Role-based navigation arrives with the dashboard issue.)"""

import streamlit as st

st.set_page_config(page_title="ClaimLens", layout="wide")
navigation = st.navigation([st.Page("pages/overview.py", title="Overview", default=True)])
navigation.run()
