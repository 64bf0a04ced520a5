"""Energy Tracker companion: dashboard, JSON API and reconciliation jobs."""
