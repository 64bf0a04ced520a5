"""The companion's settings, and the connection to Home Assistant."""

from __future__ import annotations

import logging

from starlette.requests import Request
from starlette.responses import Response

from companion.errors import JSON, ApiError
from companion.ha_client import FIELD_TOKEN, HACheckError, check_connection
from companion.tariff import Tariff

from .common import hub_of, zone_fields
from .models import HomeAssistantBody, TariffBody
from .responses import SavedAnswer, SettingsAnswer
from .spec import RouteTable

_LOGGER = logging.getLogger(__name__)

routes = RouteTable()


@routes.get("/settings", answer=SettingsAnswer, errors=(401,))
async def settings(request: Request) -> Response:
    """Settings (never the token)."""
    hub = hub_of(request)
    client = hub.ha.client
    answer: SettingsAnswer = {
        "home_assistant": {
            "url": hub.ha.url,
            "token_set": client is not None,
            "source": hub.ha.source,
            "connected": client.connected if client else False,
        },
        "api_token_required": hub.config.api_token is not None,
        **zone_fields(await hub.ha.time_zone()),
        "jobs": {
            "enabled": hub.config.jobs_enabled,
            "heartbeat_interval_seconds": hub.config.heartbeat_interval,
            "heartbeat_stale_after_seconds": hub.config.heartbeat_stale_after,
            "reconcile_interval_seconds": hub.config.reconcile_interval,
        },
    }
    return JSON(answer)


@routes.post(
    "/settings/home-assistant",
    answer=SavedAnswer,
    body_required=True,
    errors=(400, 401, 403, 413, 415, 422, 503),
    description="Connects to HA's WebSocket API and logs in with the token (at most "
    "ENERGY_TRACKER_HA_CHECK_TIMEOUT seconds, 10 by default); stores both only when "
    "that works. Invalid input is a 400 (bad_url, bad_token), a failed test a 422; "
    "both name the field.",
)
async def save_home_assistant(request: Request, body: HomeAssistantBody) -> Response:
    """Test and store HA's URL and token.

    The token may be left out to keep the saved one. Every failure of the test is
    a 4xx with its own code and the field to fix (ha_url or ha_token).
    """
    hub = hub_of(request)
    token = body.token or hub.ha.token
    if not token:
        raise ApiError(
            400,
            "bad_token",
            "Enter a long-lived access token: create one in Home Assistant (your "
            "profile → Security → Long-lived access tokens)",
            FIELD_TOKEN,
        )
    try:
        version = await check_connection(
            body.url, token, timeout=hub.config.ha_check_timeout
        )
    except HACheckError as err:
        _LOGGER.info("Home Assistant at %s not saved: %s", body.url, err.code)
        raise ApiError(422, err.code, err.message, err.field) from None
    await hub.ha.save(body.url, token)
    answer: SavedAnswer = {"success": True, "url": body.url, "ha_version": version}
    return JSON(answer)


@routes.get(
    "/settings/tariff",
    answer=Tariff,
    errors=(401, 503),
    description="What grid energy costs where HA's Energy settings name no price: "
    "a fixed price and time-of-use windows, for import and for export.",
)
async def tariff(request: Request) -> Response:
    """The tariff set in the companion (empty: none)."""
    return JSON((await hub_of(request).tariffs.stored()).model_dump())


@routes.post(
    "/settings/tariff",
    answer=Tariff,
    body_required=True,
    errors=(400, 401, 413, 415, 503),
    description="Replaces the tariff. A window's end not after its start runs past "
    "midnight; windows are in HA's time zone, the first that holds an hour's middle "
    "prices it, and the fixed price any other hour.",
)
async def save_tariff(request: Request, body: TariffBody) -> Response:
    """Store the tariff; the overview prices with it from the next request."""
    saved = Tariff.model_validate(body.model_dump())
    await hub_of(request).tariffs.save(saved)
    return JSON(saved.model_dump())
