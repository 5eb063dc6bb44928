"""Computer-vision core of the habit photo checker.

Pure library: decoding, features, matching, decisions, tagging, storage and
evaluation.  Nothing here imports Streamlit; the dashboard (``app.py``,
``pages/``), the HTTP API (``api.py``) and the CLI (``python -m vision``) all
call into this package.
"""

__all__ = ["__version__"]
__version__ = "0.1.0"
