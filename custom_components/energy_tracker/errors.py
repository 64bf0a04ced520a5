"""Exceptions of the Energy Tracker integration."""

from __future__ import annotations

from homeassistant.exceptions import HomeAssistantError


class EnergyTrackerError(HomeAssistantError):
    """Base class of the integration's errors."""


class CannotConnect(EnergyTrackerError):  # noqa: N818 - HA's naming
    """A database cannot be reached."""


class InvalidAuth(EnergyTrackerError):  # noqa: N818 - HA's naming
    """A database rejected the credentials."""


class InvalidUri(EnergyTrackerError):  # noqa: N818 - HA's naming
    """An address or URI is malformed."""


class InvalidDatabaseName(EnergyTrackerError):  # noqa: N818 - HA's naming
    """The MongoDB database name is not allowed."""
