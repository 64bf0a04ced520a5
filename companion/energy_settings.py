"""HA's Energy settings, followed: read over HA's WebSocket, kept in MongoDB.

The overview is built from what HA's Energy page names. The companion asks HA at
each reconciliation and keeps the answer, so that the overview still knows the
home's sources while HA is away. HA's own answer is kept as it came, and parsed at
each read: a better parser never needs the settings asked for again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from companion.core import energy_setup, schema
from companion.ha_client import HAClient
from companion.mongo import Mongo
from companion.timestamps import aware_utc

# The settings document: {"_id": "energy_settings", "prefs": energy/get_prefs's
# answer (None: never saved in HA), "units": [{"statistic_id", "unit"}, ...]
# (the recorder's statistics units; ids hold dots, which MongoDB keys cannot),
# "currency": HA's, "synced_at": <UTC datetime>, "home_assistant_url"}.
ENERGY_SETTINGS_ID: Final = "energy_settings"


@dataclass(frozen=True, slots=True)
class FollowedSettings:
    """The Energy settings as read last, with what the overview needs beside them."""

    setup: energy_setup.EnergySetup
    configured: bool
    units: dict[str, str]
    currency: str | None
    synced_at: datetime
    home_assistant_url: str | None


class EnergySettings:
    """The Energy settings HA reported last."""

    def __init__(self, mongo: Mongo) -> None:
        """Keep them in `mongo`'s settings collection."""
        self._mongo = mongo

    async def sync(self, ha: HAClient, url: str | None) -> FollowedSettings:
        """Ask HA for its Energy settings, their units and its currency; keep them."""
        prefs = await ha.get_energy_prefs()
        setup = energy_setup.energy_setup(prefs)  # refuses a shape it cannot read
        metadata = (
            await ha.get_statistics_metadata(setup.statistic_ids)
            if setup.statistic_ids
            else []
        )
        units = {
            str(item["statistic_id"]): str(item["statistics_unit_of_measurement"])
            for item in metadata
            if item.get("statistics_unit_of_measurement")
        }
        config = await ha.get_config()
        currency = config.get("currency") if isinstance(config, dict) else None
        followed = FollowedSettings(
            setup=setup,
            configured=prefs is not None,
            units=units,
            currency=currency if isinstance(currency, str) else None,
            synced_at=datetime.now(UTC).replace(microsecond=0),
            home_assistant_url=url,
        )
        await self._mongo.db[schema.SETTINGS].update_one(
            {"_id": ENERGY_SETTINGS_ID},
            {
                "$set": {
                    "prefs": prefs,
                    "units": [
                        {"statistic_id": stat, "unit": unit}
                        for stat, unit in sorted(units.items())
                    ],
                    "currency": followed.currency,
                    "synced_at": followed.synced_at,
                    "home_assistant_url": url,
                },
                # The setup as stored before HA's answer was kept as it came.
                "$unset": {"setup": "", "configured": ""},
            },
            upsert=True,
        )
        return followed

    async def stored(self) -> FollowedSettings | None:
        """The settings kept at the last sync, None before the first."""
        document: dict[str, Any] | None = await self._mongo.db[
            schema.SETTINGS
        ].find_one({"_id": ENERGY_SETTINGS_ID})
        if document is None or "prefs" not in document:
            return None
        prefs = document["prefs"]
        return FollowedSettings(
            setup=energy_setup.energy_setup(prefs),
            configured=prefs is not None,
            units={
                str(item["statistic_id"]): str(item["unit"])
                for item in document.get("units") or ()
            },
            currency=document.get("currency"),
            synced_at=aware_utc(document["synced_at"]),
            home_assistant_url=document.get("home_assistant_url"),
        )
