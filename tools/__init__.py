"""Developer and test tooling of Energy Tracker (not shipped)."""
