"""vision.service: the contract's flows as plain functions (register, verify, tag); see docs/ARCHITECTURE.md."""
