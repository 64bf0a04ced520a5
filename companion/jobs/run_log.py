"""The companion's runs in sync_log (the document is core's, shared with the integration)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from companion.core import documents, schema

from .results import JOB_ERRORS, JobResult, utcnow


class RunLog:
    """Write and read the runs of sync_log."""

    def __init__(self, database: AsyncDatabase[dict[str, Any]], owner: str) -> None:
        """Runs logged by `owner` (one per companion process)."""
        self._db = database
        self._owner = owner

    async def log(
        self,
        kind: str,
        started_at: datetime,
        *,
        window: tuple[datetime, datetime] | None = None,
        entities: Sequence[str] = (),
        rows: int = 0,
        outcome: str = documents.OUTCOME_OK,
        error: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        """Write one sync_log document (the oldest beyond the retention are pruned)."""
        await documents.log_sync_run(
            self._db,
            kind,
            source=documents.SOURCE_COMPANION,
            started_at=started_at,
            finished_at=utcnow(),
            window=window,
            entity_ids=entities,
            rows=rows,
            outcome=outcome,
            error=error,
            details={"owner": self._owner, **(details or {})},
        )

    async def recent(self, limit: int) -> list[dict[str, Any]]:
        """The newest `limit` sync_log documents, newest first."""
        async with self._db[schema.SYNC_LOG].find(
            {}, sort=[("started_at", -1)], limit=limit
        ) as cursor:
            return [document async for document in cursor]

    async def last(self, kind: str) -> dict[str, Any] | None:
        """The newest sync_log document of a kind."""
        return await self._db[schema.SYNC_LOG].find_one(
            {"kind": kind}, sort=[("started_at", -1)]
        )

    async def record(
        self,
        kind: str,
        window: tuple[datetime, datetime],
        entities: list[str],
        work: Callable[[], Awaitable[int]],
    ) -> JobResult:
        """Run `work` (which returns the rows written) and log its run, failed or not."""
        started = utcnow()
        try:
            rows = await work()
        except JOB_ERRORS as err:
            await self.log(
                kind,
                started,
                window=window,
                entities=entities,
                outcome=documents.OUTCOME_FAILED,
                error=str(err),
            )
            raise
        await self.log(kind, started, window=window, entities=entities, rows=rows)
        return {
            "kind": kind,
            "rows": rows,
            "entities": len(entities),
            "window_start": window[0].isoformat(),
            "window_end": window[1].isoformat(),
        }
