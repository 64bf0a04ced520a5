"""Everything a request or a job needs: databases, the HA client and its settings."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime
import logging
import time
from typing import Any

from pymongo.errors import PyMongoError

from .config import CompanionConfig
from .core import schema
from .energy_settings import EnergySettings
from .ha_client import HAClient, HAError
from .mongo import Mongo
from .questdb import QuestDB
from .store import Store
from .tariff import Tariffs
from .zones import HomeTimeZone, valid_time_zone

_LOGGER = logging.getLogger(__name__)
HA_SETTINGS_ID = "home_assistant"
# The settings document with HA's time zone as HA reported it last:
# {"_id": "time_zone", "time_zone": "Europe/Amsterdam", "learnt_at": <UTC datetime>,
#  "home_assistant_url": <the URL it was learnt from>}.
TIME_ZONE_SETTING_ID = "time_zone"
# How long one question to HA about its zone may take; how long a request waits for
# it when an earlier zone can answer; how long a failed one keeps the companion from
# asking again (meanwhile the stored zone answers); when HA is asked again.
TIME_ZONE_ASK_TIMEOUT = 3.0
TIME_ZONE_ASK_GRACE = 0.5
TIME_ZONE_ASK_RETRY = 30.0
TIME_ZONE_REFRESH = 3600.0


class HomeAssistantLink:
    """The HA client, built from the settings in MongoDB (else the environment)."""

    def __init__(self, config: CompanionConfig, mongo: Mongo) -> None:
        """Start unconfigured; `load` reads the settings."""
        self._config = config
        self._mongo = mongo
        self.client: HAClient | None = None
        self.url: str | None = None
        self.source: str | None = None
        # The token in use: kept when the user saves a new URL only; never shown.
        self.token: str | None = None
        self._lock = asyncio.Lock()
        # HA's zone learnt from the current client; the one stored in MongoDB
        # (None: not read yet, or no zone was ever stored).
        self._live_zone: HomeTimeZone | None = None
        self._stored_zone: HomeTimeZone | None = None
        self._stored_read = False
        self._live_until = 0.0  # monotonic time after which HA is asked again
        self._next_ask = 0.0  # no question to HA before (monotonic; after a failure)
        self._ask_task: asyncio.Task[None] | None = None

    async def load(self) -> None:
        """Build the client from MongoDB's settings or the environment."""
        document = None
        try:
            document = await self._mongo.db[schema.SETTINGS].find_one(
                {"_id": HA_SETTINGS_ID}
            )
        except Exception:  # noqa: BLE001 - MongoDB down: fall back to the environment
            _LOGGER.warning(
                "MongoDB unavailable; using Home Assistant settings from the environment"
            )
        else:
            await self._read_stored_zone()
        if document and document.get("url") and document.get("token"):
            await self.use(str(document["url"]), str(document["token"]), "database")
        elif self._config.ha_url and self._config.ha_token:
            await self.use(self._config.ha_url, self._config.ha_token, "environment")

    async def use(self, url: str, token: str, source: str) -> None:
        """Replace the client (closing the old one)."""
        async with self._lock:
            old, self.client = self.client, HAClient(url, token)
            self.url, self.source, self.token = url, source, token
            task, self._ask_task = self._ask_task, None
            self._live_zone, self._next_ask = None, 0.0
        if task is not None:
            task.cancel()  # asking the old HA: its answer is no longer wanted
        if old is not None:
            await old.close()

    async def save(self, url: str, token: str) -> None:
        """Store URL and token in MongoDB and switch to them."""
        await self._mongo.db[schema.SETTINGS].update_one(
            {"_id": HA_SETTINGS_ID},
            {"$set": {"url": url, "token": token, "updated_at": datetime.now(UTC)}},
            upsert=True,
        )
        await self.use(url, token, "database")

    def require(self) -> HAClient:
        """The client, or HAError when HA is not configured."""
        if self.client is None:
            raise HAError("Home Assistant is not configured")
        return self.client

    async def time_zone(self) -> HomeTimeZone | None:
        """HA's time zone: the one place that decides what a day is.

        HA's own answer (asked once per client and again hourly, in the background
        while an earlier answer can be given); else the zone HA reported last, kept
        in MongoDB; else ENERGY_TRACKER_TIME_ZONE; else None: the zone is unknown,
        and no day can be computed. Never UTC in its place.
        """
        now = time.monotonic()
        if (
            self.client is not None
            and (self._live_zone is None or now >= self._live_until)
            and now >= self._next_ask
        ):
            task = self._ask_task
            if task is None or task.done():
                task = self._ask_task = asyncio.create_task(
                    self._ask_home_assistant(self.client), name="ha-time-zone"
                )
            known = self._live_zone or await self._fallback_zone()
            # With a zone to answer, a slow or dead HA delays no request for long.
            await asyncio.wait(
                {task}, timeout=None if known is None else TIME_ZONE_ASK_GRACE
            )
        return self._live_zone or await self._fallback_zone()

    async def _fallback_zone(self) -> HomeTimeZone | None:
        """The zone HA reported last (MongoDB), else the one the environment states."""
        if not self._stored_read:
            await self._read_stored_zone()
        if self._stored_zone is not None:
            return self._stored_zone
        declared = valid_time_zone(self._config.time_zone)
        return None if declared is None else HomeTimeZone(declared, "environment")

    async def _ask_home_assistant(self, client: HAClient) -> None:
        """Learn HA's zone from `get_config` and keep it in MongoDB."""
        try:
            async with asyncio.timeout(TIME_ZONE_ASK_TIMEOUT):
                config: Any = await client.get_config()
        except (HAError, TimeoutError) as err:
            self._next_ask = time.monotonic() + TIME_ZONE_ASK_RETRY
            _LOGGER.debug("Home Assistant's time zone not read: %s", err)
            return
        reported = config.get("time_zone") if isinstance(config, dict) else None
        name = valid_time_zone(reported)
        if name is None:
            self._next_ask = time.monotonic() + TIME_ZONE_ASK_RETRY
            _LOGGER.warning(
                "Home Assistant reports the time zone %r, which is not in the IANA "
                "database here; days use the zone it reported before, if any",
                reported,
            )
            return
        if client is not self.client:  # replaced while asking: not its zone
            return
        previous = self._live_zone or self._stored_zone
        zone = HomeTimeZone(name, "home_assistant", datetime.now(UTC))
        self._live_zone = zone
        self._live_until = time.monotonic() + TIME_ZONE_REFRESH
        if previous is not None and previous.name != name:
            _LOGGER.warning(
                "Home Assistant's time zone is now %s (was %s)", name, previous.name
            )
        declared = self._config.time_zone
        if declared is not None and declared != name:
            _LOGGER.warning(
                "ENERGY_TRACKER_TIME_ZONE=%s differs from Home Assistant's time zone %s; "
                "days follow Home Assistant's",
                declared,
                name,
            )
        await self._store_zone(zone)

    async def _read_stored_zone(self) -> None:
        """Read the zone HA reported last from MongoDB (once it could be read)."""
        try:
            document = await self._mongo.db[schema.SETTINGS].find_one(
                {"_id": TIME_ZONE_SETTING_ID}
            )
        except PyMongoError as err:
            _LOGGER.warning("Stored time zone not read (MongoDB): %s", err)
            return
        self._stored_read = True
        if document is None:
            return
        name = valid_time_zone(document.get("time_zone"))
        if name is None:
            _LOGGER.warning(
                "The stored time zone %r is not an IANA zone; ignored",
                document.get("time_zone"),
            )
            return
        learnt_at = document.get("learnt_at")
        self._stored_zone = HomeTimeZone(
            name, "stored", learnt_at if isinstance(learnt_at, datetime) else None
        )

    async def _store_zone(self, zone: HomeTimeZone) -> None:
        """Keep HA's zone in MongoDB, for the next start while HA is away."""
        try:
            await self._mongo.db[schema.SETTINGS].update_one(
                {"_id": TIME_ZONE_SETTING_ID},
                {
                    "$set": {
                        "time_zone": zone.name,
                        "learnt_at": zone.learnt_at,
                        "home_assistant_url": self.url,
                    }
                },
                upsert=True,
            )
        except PyMongoError as err:
            _LOGGER.warning("Home Assistant's time zone not stored (MongoDB): %s", err)
            return
        self._stored_zone = HomeTimeZone(zone.name, "stored", zone.learnt_at)
        self._stored_read = True

    async def close(self) -> None:
        """Close the client (and stop a question about the time zone)."""
        task, self._ask_task = self._ask_task, None
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self.client is not None:
            await self.client.close()
            self.client = None


class Hub:
    """The companion's shared state, opened by the lifespan."""

    def __init__(self, config: CompanionConfig) -> None:
        """Create the clients (all connect lazily)."""
        self.config = config
        self.questdb = QuestDB(config)
        self.mongo = Mongo(config)
        self.store = Store(self.questdb, config)
        self.ha = HomeAssistantLink(config, self.mongo)
        self.energy_settings = EnergySettings(self.mongo)
        self.tariffs = Tariffs(self.mongo)

    async def close(self) -> None:
        """Close every client."""
        await self.ha.close()
        await self.questdb.close()
        await self.mongo.close()
