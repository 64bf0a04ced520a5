"""What can go wrong when the companion asks Home Assistant something."""

from __future__ import annotations


class HAError(Exception):
    """Home Assistant could not answer a command."""


class HAConnectionError(HAError):
    """Home Assistant is unreachable."""


class HAAuthError(HAError):
    """Home Assistant refused the access token."""


class HACommandError(HAError):
    """Home Assistant answered a command with an error."""

    def __init__(self, code: str, message: str) -> None:
        """Keep HA's error code."""
        super().__init__(f"{code}: {message}")
        self.code = code
