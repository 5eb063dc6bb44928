"""vision.replay.check: see docs/ARCHITECTURE.md."""
