"""Streamlit glue shared by the pages: sidebar, photo input, cached loaders.

Only widgets and caching live here; every computation is a call into
``vision/``.
"""
