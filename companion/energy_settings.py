"""HA's Energy settings, followed: read over HA's WebSocket, kept in MongoDB.

The overview is built from what HA's Energy page names. The companion asks HA at
each reconciliation and keeps the answer, so that the overview still knows the
home's sources while HA is away.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Final

from companion.core import energy_setup, schema
from companion.ha_client import HAClient
from companion.mongo import Mongo

# The settings document: {"_id": "energy_settings", "setup": EnergySetup as a
# document, "configured": bool, "synced_at": <UTC datetime>, "home_assistant_url"}.
ENERGY_SETTINGS_ID: Final = "energy_settings"


class EnergySettings:
    """The Energy settings HA reported last."""

    def __init__(self, mongo: Mongo) -> None:
        """Keep them in `mongo`'s settings collection."""
        self._mongo = mongo

    async def sync(self, ha: HAClient, url: str | None) -> energy_setup.EnergySetup:
        """Ask HA for its Energy settings and keep them; return what they name."""
        prefs = await ha.get_energy_prefs()
        setup = energy_setup.energy_setup(prefs)
        await self._mongo.db[schema.SETTINGS].update_one(
            {"_id": ENERGY_SETTINGS_ID},
            {
                "$set": {
                    "setup": setup.to_document(),
                    "configured": prefs is not None,
                    "synced_at": datetime.now(UTC),
                    "home_assistant_url": url,
                }
            },
            upsert=True,
        )
        return setup

    async def stored(self) -> dict[str, Any] | None:
        """The document kept at the last sync, None before the first."""
        document: dict[str, Any] | None = await self._mongo.db[
            schema.SETTINGS
        ].find_one({"_id": ENERGY_SETTINGS_ID}, {"_id": 0})
        return document
