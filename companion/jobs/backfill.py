"""Copies from HA into QuestDB of a window: raw readings and statistics, each logged."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from companion.core import schema
from companion.sync import ProgressCallback, backfill_readings, sync_statistics

from .results import JobResult
from .run_log import RunLog

if TYPE_CHECKING:
    from companion.hub import Hub


class Backfills:
    """Back-fills and statistics syncs, each run written to sync_log."""

    def __init__(self, hub: Hub, runs: RunLog, progress: ProgressCallback) -> None:
        """Copy with `hub`'s clients; `progress` hears of each fetched slice."""
        self.hub = hub
        self._runs = runs
        self._progress = progress

    async def tracked_entities(self) -> list[str]:
        """Ids of the tracked entities."""
        async with self.hub.mongo.db[schema.ENTITIES].find(
            {"is_tracked": True}, {"_id": 1}
        ) as cursor:
            return sorted([str(doc["_id"]) async for doc in cursor])

    async def backfill(
        self,
        entity_ids: list[str] | None,
        start: datetime,
        end: datetime,
        *,
        kind: str = "backfill",
        statistics: bool = True,
    ) -> JobResult:
        """Raw readings (and hourly statistics) of [start, end) from HA into QuestDB."""
        ha = self.hub.ha.require()
        entities = (
            entity_ids if entity_ids is not None else await self.tracked_entities()
        )

        async def work() -> int:
            rows = await backfill_readings(
                ha, self.hub.store, entities, start, end, progress=self._progress
            )
            if statistics:
                rows += await sync_statistics(
                    ha, self.hub.store, entities, start, end, progress=self._progress
                )
            return rows

        return await self._runs.record(kind, (start, end), entities, work)

    async def energy_settings_sync(self) -> None:
        """HA's Energy settings into MongoDB: the sources the overview is built from."""
        await self.hub.energy_settings.sync(self.hub.ha.require(), self.hub.ha.url)

    async def followed_statistics(self) -> list[str]:
        """Ids whose statistics are copied: the tracked entities and what the Energy settings name.

        The overview needs statistics HA's Energy page names but no tracked entity
        has: cost statistics, external meters.
        """
        followed = await self.hub.energy_settings.stored()
        named = followed.setup.statistic_ids if followed is not None else ()
        return sorted({*await self.tracked_entities(), *named})

    async def statistics_sync(
        self,
        entity_ids: list[str] | None,
        start: datetime,
        end: datetime,
        *,
        period: str = "hour",
        kind: str = "statistics_sync",
    ) -> JobResult:
        """HA's statistics of [start, end) into energy_statistics (default: those followed)."""
        ha = self.hub.ha.require()
        entities = (
            entity_ids if entity_ids is not None else await self.followed_statistics()
        )

        async def work() -> int:
            return await sync_statistics(
                ha,
                self.hub.store,
                entities,
                start,
                end,
                period=period,
                progress=self._progress,
            )

        return await self._runs.record(kind, (start, end), entities, work)
