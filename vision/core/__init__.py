"""vision.core: see docs/ARCHITECTURE.md."""
