"""Everything a request or a job needs: databases, the HA client and its settings."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
import logging
from typing import Any

from .config import CompanionConfig
from .ha_client import HAClient, HAError
from .mongo import Mongo
from .questdb import QuestDB
from .shared import schema
from .store import Store, safe_time_zone

_LOGGER = logging.getLogger(__name__)
HA_SETTINGS_ID = "home_assistant"


class HomeAssistantLink:
    """The HA client, built from the settings in MongoDB (else the environment)."""

    def __init__(self, config: CompanionConfig, mongo: Mongo) -> None:
        """Start unconfigured; `load` reads the settings."""
        self._config = config
        self._mongo = mongo
        self.client: HAClient | None = None
        self.url: str | None = None
        self.source: str | None = None
        self._time_zone: str | None = None
        self._lock = asyncio.Lock()

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
        if document and document.get("url") and document.get("token"):
            await self.use(str(document["url"]), str(document["token"]), "database")
        elif self._config.ha_url and self._config.ha_token:
            await self.use(self._config.ha_url, self._config.ha_token, "environment")

    async def use(self, url: str, token: str, source: str) -> None:
        """Replace the client (closing the old one)."""
        async with self._lock:
            old, self.client = self.client, HAClient(url, token)
            self.url, self.source, self._time_zone = url, source, None
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

    async def time_zone(self) -> str:
        """HA's configured time zone (cached; ENERGY_TRACKER_TIME_ZONE or UTC without HA)."""
        if self._time_zone is None and self.client is not None:
            try:
                config: dict[str, Any] = await self.client.get_config()
                self._time_zone = safe_time_zone(config.get("time_zone"))
            except HAError:
                pass
        return self._time_zone or safe_time_zone(self._config.time_zone)

    async def close(self) -> None:
        """Close the client."""
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

    async def close(self) -> None:
        """Close every client."""
        await self.ha.close()
        await self.questdb.close()
        await self.mongo.close()
