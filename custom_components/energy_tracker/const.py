"""Constants for the Energy Tracker integration."""

from __future__ import annotations

import logging
from typing import Final

DOMAIN: Final = "energy_tracker"
LOGGER = logging.getLogger(__package__)
