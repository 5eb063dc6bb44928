"""The HTTP layer of ``api.py`` (FastAPI/Starlette): runtime, body reading, flows, OpenAPI docs.

Only :mod:`api` imports this package; the flows themselves live in :mod:`vision.service` (register, verify, tag).
"""
