"""vision.views: see docs/ARCHITECTURE.md."""
