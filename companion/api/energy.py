"""HA's Energy settings, as the companion follows them."""

from __future__ import annotations

import asyncio
from typing import cast
from zoneinfo import ZoneInfo

from starlette.requests import Request
from starlette.responses import Response

from companion.energy_settings import FollowedSettings
from companion.errors import JSON, ApiError
from companion.overview import Overview
from companion.timestamps import iso_utc_z

from .common import TIME_ZONE_UNKNOWN_NOTE, day_zone, hub_of
from .energy_answers import EnergySettingsAnswer, OverviewAnswer
from .models import EnergySettingsQuery, OverviewQuery
from .spec import RouteTable

routes = RouteTable()


@routes.get(
    "/energy/settings",
    answer=EnergySettingsAnswer,
    errors=(400, 401, 409, 503),
    description="What HA's Energy page names: grid, solar, battery, gas, water, the "
    "home's power and the devices. Read from HA at each reconciliation and kept in "
    "MongoDB; `?refresh=true` asks HA now.",
)
async def energy_settings(request: Request, query: EnergySettingsQuery) -> Response:
    """HA's Energy settings as read last; asked for now when never read or on refresh."""
    followed = await followed_settings(request, refresh=query.refresh == "true")
    answer: EnergySettingsAnswer = {
        "configured": followed.configured,
        "synced_at": iso_utc_z(followed.synced_at),
        "home_assistant_url": followed.home_assistant_url,
        "currency": followed.currency,
        "setup": followed.setup,  # orjson writes dataclasses and tuples as JSON
    }
    return JSON(answer)


@routes.get(
    "/energy/overview",
    answer=OverviewAnswer,
    errors=(400, 401, 409, 503),
    error_notes={409: TIME_ZONE_UNKNOWN_NOTE},
    description="The whole home per hour, local day, week (from Monday) or month, "
    "from what HA's Energy settings name: HA's hourly statistics where they exist, "
    "else the readings. Sources the settings do not name are absent.",
)
async def energy_overview(request: Request, query: OverviewQuery) -> Response:
    """The home's energy, costs and standby power per bucket, with spans to compare."""
    start, end = query.window
    hub = hub_of(request)
    zone = await day_zone(hub)
    followed, tariff = await asyncio.gather(
        followed_settings(request, refresh=False), hub.tariffs.stored()
    )
    overview = Overview(hub.store, followed, tariff, ZoneInfo(zone.name))
    figures = await overview.answer(start, end, query.period)
    answer = cast(
        "OverviewAnswer",
        {
            "time_zone": zone.name,
            "time_zone_source": zone.source,
            "currency": followed.currency,
            "period": query.period,
            **figures,
        },
    )  # Overview.answer builds the rest of this shape
    return JSON(answer)


async def followed_settings(request: Request, *, refresh: bool) -> FollowedSettings:
    """The Energy settings kept; asked of HA first when never read or on `refresh`."""
    hub = hub_of(request)
    followed = None if refresh else await hub.energy_settings.stored()
    if followed is None:
        client = hub.ha.client
        if client is None:
            raise ApiError(
                409,
                "home_assistant_not_configured",
                "Home Assistant is not configured: connect it on the Settings page",
            )
        followed = await hub.energy_settings.sync(client, hub.ha.url)
    return followed
