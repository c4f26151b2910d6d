"""Health, readiness, metrics and version."""
