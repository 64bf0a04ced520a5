"""System tests: every component a real process."""
