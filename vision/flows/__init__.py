"""vision.flows: see docs/ARCHITECTURE.md."""
