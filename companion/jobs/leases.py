"""Named leases in MongoDB, so several replicas never run the same job at once.

A lease is a document in `leases` taken by an atomic find_one_and_update with an
expiry time: FerretDB has neither TTL indexes nor transactions.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
import contextlib
from datetime import timedelta
from typing import Any

from pymongo import ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError, PyMongoError

from companion.core import schema

from .results import utcnow


class Leases:
    """Named leases: at most one owner at a time, until expiry."""

    def __init__(self, database: AsyncDatabase[dict[str, Any]], owner: str) -> None:
        """Leases taken by `owner` (one per companion process)."""
        self._collection = database[schema.LEASES]
        self.owner = owner

    async def acquire(self, name: str, ttl: float) -> bool:
        """Take or renew the lease; False when another owner holds an unexpired one."""
        now = utcnow()
        try:
            document = await self._collection.find_one_and_update(
                {
                    "_id": name,
                    "$or": [{"expires_at": {"$lte": now}}, {"owner": self.owner}],
                },
                {
                    "$set": {
                        "owner": self.owner,
                        "expires_at": now + timedelta(seconds=ttl),
                        "renewed_at": now,
                    }
                },
                upsert=True,
                return_document=ReturnDocument.AFTER,
            )
        except DuplicateKeyError:
            return False  # the document exists and another owner holds it
        return document is not None and document.get("owner") == self.owner

    async def release(self, name: str) -> None:
        """Give the lease up (only if still ours)."""
        await self._collection.delete_one({"_id": name, "owner": self.owner})

    @contextlib.asynccontextmanager
    async def held(self, name: str, ttl: float = 600.0) -> AsyncIterator[bool]:
        """Hold the lease while the block runs, renewing it; yields whether it was taken."""
        if not await self.acquire(name, ttl):
            yield False
            return

        async def renew() -> None:
            while True:
                await asyncio.sleep(ttl / 3)
                with contextlib.suppress(PyMongoError):
                    await self.acquire(name, ttl)

        renewer = asyncio.create_task(renew(), name=f"lease-{name}")
        try:
            yield True
        finally:
            renewer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await renewer
            with contextlib.suppress(PyMongoError):
                await self.release(name)
