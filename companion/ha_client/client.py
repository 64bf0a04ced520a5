"""The commands the companion sends Home Assistant: states, config, history, statistics."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from companion.core import units
from companion.timestamps import iso_utc_offset

from .connection import HAConnection
from .errors import HACommandError

STATISTIC_TYPES = ("state", "sum", "mean", "min", "max", "last_reset", "change")
# Ask HA to convert statistics into the units Energy Tracker stores (units.py).
STATISTIC_UNITS = {
    "energy": units.CANONICAL_UNIT[units.ENERGY],
    "power": units.CANONICAL_UNIT[units.POWER],
    "volume": units.CANONICAL_UNIT[units.GAS],
}


class HAClient(HAConnection):
    """Home Assistant's WebSocket API, one method per command the companion uses."""

    async def get_config(self) -> dict[str, Any]:
        """HA's core configuration (time zone, units, version)."""
        result: dict[str, Any] = await self.command({"type": "get_config"})
        return result

    async def get_energy_prefs(self) -> dict[str, Any] | None:
        """HA's Energy settings as `energy/get_prefs` gives them; None: never saved."""
        try:
            result: dict[str, Any] = await self.command({"type": "energy/get_prefs"})
        except HACommandError as err:
            if err.code == "not_found":  # HA answers so until the Energy page is saved
                return None
            raise
        return result

    async def get_states(self) -> list[dict[str, Any]]:
        """Every entity's current state."""
        result: list[dict[str, Any]] = await self.command({"type": "get_states"})
        return result

    async def get_statistics_metadata(
        self, statistic_ids: Iterable[str]
    ) -> list[dict[str, Any]]:
        """The recorder's metadata (unit, unit class, has_sum, name) of these statistics."""
        result: list[dict[str, Any]] = await self.command(
            {
                "type": "recorder/get_statistics_metadata",
                "statistic_ids": list(statistic_ids),
            }
        )
        return result

    async def statistics_during_period(
        self,
        start: datetime,
        end: datetime,
        statistic_ids: Iterable[str],
        period: str = "hour",
        types: Iterable[str] = STATISTIC_TYPES,
    ) -> dict[str, list[dict[str, Any]]]:
        """Long-term statistics, converted to the stored units; times in ms since epoch."""
        result: dict[str, list[dict[str, Any]]] = await self.command(
            {
                "type": "recorder/statistics_during_period",
                "start_time": iso_utc_offset(start),
                "end_time": iso_utc_offset(end),
                "statistic_ids": list(statistic_ids),
                "period": period,
                "types": list(types),
                "units": STATISTIC_UNITS,
            }
        )
        return result

    async def history_during_period(
        self, start: datetime, end: datetime, entity_ids: Iterable[str]
    ) -> dict[str, list[dict[str, Any]]]:
        """Every recorded state change (compressed: s, a, lu/lc in seconds)."""
        result: dict[str, list[dict[str, Any]]] = await self.command(
            {
                "type": "history/history_during_period",
                "start_time": iso_utc_offset(start),
                "end_time": iso_utc_offset(end),
                "entity_ids": list(entity_ids),
                "include_start_time_state": False,
                "significant_changes_only": False,
                "minimal_response": False,
                "no_attributes": False,
            }
        )
        return result
