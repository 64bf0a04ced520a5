"""Statistics of one entity, and its daily summaries in HA's time zone."""

from __future__ import annotations

import asyncio
from typing import cast

from starlette.requests import Request
from starlette.responses import Response

from companion.errors import JSON

from .common import TIME_ZONE_UNKNOWN_NOTE, day_zone, entity_document, hub_of, iso_z
from .models import DailyQuery, EntityPath, StatisticsQuery
from .responses import DailyAnswer, DailySummary, Statistic, StatisticsAnswer
from .spec import RouteTable

CALENDAR_PERIODS = frozenset({"day", "month"})

routes = RouteTable()


@routes.get(
    "/statistics/{entity_id}/daily",
    answer=DailyAnswer,
    errors=(400, 401, 404, 503),
    error_notes={409: TIME_ZONE_UNKNOWN_NOTE},
)
async def daily(request: Request, query: DailyQuery, path: EntityPath) -> Response:
    """Per local day in HA's time zone: consumption, average power, peak, readings."""
    start, end = query.window
    entity = await entity_document(request, path.entity_id)
    hub = hub_of(request)
    zone = await day_zone(hub)
    data = await hub.store.daily(
        entity["_id"],
        start,
        end,
        time_zone=zone.name,
        device_class=entity.get("device_class"),
        state_class=entity.get("state_class"),
    )
    answer: DailyAnswer = {
        "entity_id": entity["_id"],
        "time_zone": zone.name,
        "time_zone_known": True,
        "time_zone_source": zone.source,
        "unit_of_measurement": entity.get("unit"),
        "data": cast("list[DailySummary]", data),  # the store's rows are of this shape
    }
    return JSON(answer)


@routes.get(
    "/statistics/{entity_id}",
    answer=StatisticsAnswer,
    errors=(400, 401, 404, 503),
    error_notes={409: TIME_ZONE_UNKNOWN_NOTE},
)
async def statistics(
    request: Request, query: StatisticsQuery, path: EntityPath
) -> Response:
    """Statistics of one entity (stored, else aggregated readings)."""
    start, end = query.window
    period = query.period
    hub = hub_of(request)
    # The entity lookup (MongoDB) and the statistics (QuestDB) at once: one round
    # trip less; an unknown entity still answers 404, whatever the query found.
    lookup = asyncio.ensure_future(entity_document(request, path.entity_id))
    try:
        # Days and months are HA's; 5-minute and hourly buckets need no zone.
        zone = await day_zone(hub) if period in CALENDAR_PERIODS else None
        data = await hub.store.statistics(
            path.entity_id,
            start,
            end,
            period=period,
            time_zone=zone.name if zone else None,
        )
    except BaseException:
        await lookup
        raise
    entity = await lookup
    answer: StatisticsAnswer = {
        "entity_id": entity["_id"],
        "period": period,
        "start_time": iso_z(start),
        "end_time": iso_z(end),
        "time_zone": zone.name if zone else None,
        "time_zone_source": zone.source if zone else None,
        "unit_of_measurement": entity.get("unit"),
        "data": cast("list[Statistic]", data),  # the store's rows are of this shape
    }
    return JSON(answer)
