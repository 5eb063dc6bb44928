"""vision.image: see docs/ARCHITECTURE.md."""
