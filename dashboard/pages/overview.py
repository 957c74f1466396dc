"""Claim volume per line of business, read from the database."""

import pandas as pd
import plotly.express as px
import streamlit as st

from core.data.summary import claims_per_line
from db.session import session_scope

st.title("ClaimLens")
with session_scope() as session:
    volumes = claims_per_line(session)

if not volumes:
    st.info("No claims yet. Load some with `claimlens seed` or `claimlens import FILE`.")
else:
    frame = pd.DataFrame([{"Line of business": v.line_of_business, "Claims": v.claims} for v in volumes])
    st.metric("Claims", f"{int(frame['Claims'].sum()):,}")
    st.plotly_chart(px.bar(frame, x="Line of business", y="Claims"), key="claims_per_line")
    st.dataframe(frame, hide_index=True, key="claims_per_line_table")
