"""vision.matchers: see docs/ARCHITECTURE.md."""
