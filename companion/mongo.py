"""The companion's MongoDB client (PyMongo's AsyncMongoClient)."""

from __future__ import annotations

from typing import Any

from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import PyMongoError

from .config import CompanionConfig
from .core import schema

type Document = dict[str, Any]


class Mongo:
    """One client and the companion's database."""

    def __init__(self, config: CompanionConfig) -> None:
        """Create the client; PyMongo connects lazily, so this never blocks or fails."""
        self.client: AsyncMongoClient[Document] = AsyncMongoClient(
            config.mongodb_uri,
            serverSelectionTimeoutMS=3000,
            connectTimeoutMS=3000,
            tz_aware=True,
            appname="energy-tracker-companion",
        )
        self.db: AsyncDatabase[Document] = self.client[config.mongodb_database]
        self._schema_ready = False

    async def ensure_schema(self) -> None:
        """Create the indexes once per process."""
        if not self._schema_ready:
            await schema.ensure_mongo_schema(self.db)
            self._schema_ready = True

    async def ping(self) -> bool:
        """Return True when the server answers."""
        try:
            await self.client.admin.command("ping")
        except PyMongoError:
            return False
        return True

    async def close(self) -> None:
        """Close the client."""
        await self.client.close()
