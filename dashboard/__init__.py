"""The Streamlit app: `app.py` routes, page files hold layout only."""
