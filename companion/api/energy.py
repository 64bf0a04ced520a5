"""HA's Energy settings, as the companion follows them."""

from __future__ import annotations

from typing import cast

from starlette.requests import Request
from starlette.responses import Response

from companion.errors import JSON, ApiError
from companion.timestamps import aware_utc, iso_utc_z

from .common import hub_of
from .models import EnergySettingsQuery
from .responses import EnergySettingsAnswer, EnergySetupFields
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
    hub = hub_of(request)
    document = None if query.refresh == "true" else await hub.energy_settings.stored()
    if document is None:
        client = hub.ha.client
        if client is None:
            raise ApiError(
                409,
                "home_assistant_not_configured",
                "Home Assistant is not configured: connect it on the Settings page",
            )
        await hub.energy_settings.sync(client, hub.ha.url)
        document = await hub.energy_settings.stored()
    if document is None:  # pragma: no cover - written just above
        raise ApiError(503, "mongodb_unavailable", "MongoDB is unavailable")
    answer: EnergySettingsAnswer = {
        "configured": bool(document.get("configured")),
        "synced_at": iso_utc_z(aware_utc(document["synced_at"])) or "",
        "home_assistant_url": document.get("home_assistant_url"),
        "setup": cast("EnergySetupFields", document["setup"]),
    }
    return JSON(answer)
