"""Gaps in capture: the heartbeat watch, gap back-fill and start-up recovery.

The integration's heartbeat (core `documents.ForwarderState`) says when capture last
ran. A heartbeat gone stale while HA is up opens a gap in `gaps` from the last event
the forwarder saw; once the heartbeat is fresh again the gap is back-filled from HA's
recorder and closed. At start-up the companion back-fills from the oldest last event.
"""

from __future__ import annotations

from datetime import datetime, timedelta
import logging
from typing import TYPE_CHECKING, Any, Final

from companion.core import documents, schema
from companion.timestamps import aware_utc, iso_utc_offset

from .backfill import Backfills
from .leases import Leases
from .results import JobResult, skipped, utcnow
from .run_log import RunLog

if TYPE_CHECKING:
    from companion.hub import Hub

_LOGGER = logging.getLogger(__name__)

GAPS: Final = "gaps"
"""Open capture gaps (companion-owned): `_id` = forwarder instance, `start`."""

GAP_MARGIN: Final = timedelta(minutes=1)


class Recovery:
    """Find the windows capture missed and back-fill them from HA."""

    def __init__(
        self, hub: Hub, leases: Leases, runs: RunLog, backfills: Backfills
    ) -> None:
        """Recover with `hub`'s clients, under `leases`, logging to `runs`."""
        self.hub = hub
        self.config = hub.config
        self._leases = leases
        self._runs = runs
        self._backfills = backfills

    async def heartbeat_check(self) -> JobResult:
        """Detect stale forwarder heartbeats; fill each gap once capture resumes."""
        async with self._leases.held("heartbeat_watch") as taken:
            if not taken:
                return skipped()
            now = utcnow()
            client = self.hub.ha.client
            ha_up = client is not None and await client.ping()
            # Read whole and closed first: the loop below awaits other operations
            # (and may be cancelled), which must not keep a cursor open meanwhile.
            async with self.hub.mongo.db[schema.FORWARDER_STATE].find({}) as cursor:
                states = await cursor.to_list()
            report = [await self._check(state, now, ha_up) for state in states]
            await self._runs.log("heartbeat_check", now, details={"forwarders": report})
            return {"forwarders": report, "ha_connected": ha_up}

    async def _check(
        self, state: dict[str, Any], now: datetime, ha_up: bool
    ) -> dict[str, Any]:
        """Open, keep or fill the gap of one forwarder; return its report."""
        gaps = self.hub.mongo.db[GAPS]
        instance = str(state["_id"])
        heartbeat = aware_utc(state.get(documents.HEARTBEAT_AT))
        stale_after = timedelta(seconds=self.config.heartbeat_stale_after)
        stale = heartbeat is None or now - heartbeat > stale_after
        gap = await gaps.find_one({"_id": instance})
        if stale and ha_up:
            if gap is None:
                start = (
                    aware_utc(state.get(documents.LAST_EVENT_AT))
                    or heartbeat
                    or now - timedelta(days=self.config.recovery_days)
                )
                await gaps.update_one(
                    {"_id": instance},
                    {"$setOnInsert": {"start": start, "detected_at": now}},
                    upsert=True,
                )
                _LOGGER.warning(
                    "forwarder %s heartbeat is stale since %s", instance, heartbeat
                )
                gap = {"start": start}
            gap_start = gap["start"]
            return {
                "instance": instance,
                "status": "stale",
                "gap_start": iso_utc_offset(aware_utc(gap_start))
                if isinstance(gap_start, datetime)
                else None,
            }
        if not stale and gap is not None and ha_up:
            start = (aware_utc(gap["start"]) or now) - GAP_MARGIN
            result = await self._backfills.backfill(
                None, start, now, kind="gap_backfill"
            )
            await gaps.delete_one({"_id": instance})
            return {"instance": instance, "status": "gap_filled", **result}
        return {"instance": instance, "status": "stale" if stale else "ok", "ha": ha_up}

    async def startup_recovery(self) -> JobResult:
        """Back-fill from the last event time in MongoDB (7 days when none) to now."""
        async with self._leases.held("startup_recovery") as taken:
            if not taken:
                return skipped()
            now = utcnow()
            async with self.hub.mongo.db[schema.FORWARDER_STATE].find(
                {}, {documents.LAST_EVENT_AT: 1}
            ) as cursor:
                last_events = [
                    aware_utc(moment)
                    async for doc in cursor
                    if isinstance(moment := doc.get(documents.LAST_EVENT_AT), datetime)
                ]
            oldest_allowed = now - timedelta(days=self.config.recovery_days)
            start = min(last_events) - GAP_MARGIN if last_events else oldest_allowed
            return await self._backfills.backfill(
                None, max(start, oldest_allowed), now, kind="startup_recovery"
            )
