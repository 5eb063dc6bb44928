"""vision.service.contract: see docs/ARCHITECTURE.md."""
