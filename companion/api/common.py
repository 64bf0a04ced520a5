"""What the API's areas share: the hub, entity lookups and HA's time zone."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

from starlette.requests import Request

from companion import discovery
from companion.core import schema
from companion.errors import ApiError
from companion.ha_client import HAAuthError, HAConnectionError, HAError
from companion.hub import Hub
from companion.jobs import Jobs
from companion.timestamps import iso_utc_z
from companion.zones import HomeTimeZone

from .responses import TimeZoneFields

# How long a sync naming an undiscovered entity waits for HA to say whether it has it.
LEARN_TIMEOUT = 15.0
TIME_ZONE_UNKNOWN_MESSAGE = (
    "Home Assistant's time zone is not known: the companion has never reached Home "
    "Assistant, so it cannot tell where a day starts. Connect Home Assistant on the "
    "Settings page; its time zone is kept from then on, also while it is away."
)
TIME_ZONE_UNKNOWN_NOTE = (
    "time_zone_unknown: Home Assistant's time zone was never learnt, so no day can "
    "be computed (the answer is refused rather than given in another zone); connect "
    "Home Assistant on the Settings page"
)


def hub_of(request: Request) -> Hub:
    """The hub the lifespan opened."""
    hub: Hub = request.state.hub
    return hub


def jobs_of(request: Request) -> Jobs:
    """The jobs the lifespan started."""
    jobs: Jobs = request.state.jobs
    return jobs


def iso_z(moment: datetime) -> str:
    """`iso_utc_z` of a time, which is never None."""
    return str(iso_utc_z(moment))


def iso_value(value: object) -> str | None:
    """A stored time as the API writes it; None for anything else."""
    return iso_utc_z(value) if isinstance(value, datetime) else None


async def entity_document(request: Request, entity_id: str) -> dict[str, Any]:
    """The entity's document; 404 when unknown."""
    document: dict[str, Any] | None = (
        await hub_of(request).mongo.db[schema.ENTITIES].find_one({"_id": entity_id})
    )
    if document is None:
        raise ApiError(404, "unknown_entity", f"unknown entity {entity_id}")
    return document


async def known_entity_ids(
    request: Request, entity_ids: list[str], *, ask_home_assistant: bool = False
) -> list[str]:
    """The given ids, sorted and unique; every one must be known (404 otherwise).

    With `ask_home_assistant`, one the companion has not discovered yet is looked
    up in HA and, when HA has it (a state or statistics), written as discovery does.
    """
    ids = sorted(set(entity_ids))
    entities = hub_of(request).mongo.db[schema.ENTITIES]
    async with entities.find({"_id": {"$in": ids}}, {"_id": 1}) as cursor:
        known = {doc["_id"] async for doc in cursor}
    missing = [item for item in ids if item not in known]
    if missing and ask_home_assistant:
        missing = await _learn_from_home_assistant(request, missing)
        if missing:
            raise ApiError(
                404,
                "unknown_entity",
                f"Home Assistant has no entity or statistic {missing[0]!r}"
                + (f" (nor {len(missing) - 1} more)" if len(missing) > 1 else ""),
            )
    if missing:
        raise ApiError(404, "unknown_entity", f"unknown entity {missing[0]}")
    return ids


async def _learn_from_home_assistant(
    request: Request, entity_ids: list[str]
) -> list[str]:
    """Write the documents of the entities HA has; return those it has not."""
    hub = hub_of(request)
    client = hub.ha.client
    if client is None:
        raise ApiError(
            409,
            "home_assistant_not_configured",
            f"{entity_ids[0]!r} is not known yet and Home Assistant, which could "
            "tell, is not configured: connect it on the Settings page",
        )
    try:
        async with asyncio.timeout(LEARN_TIMEOUT):
            return await discovery.learn_entities(
                client, hub.mongo.db[schema.ENTITIES], entity_ids
            )
    except (HAConnectionError, TimeoutError):
        raise ApiError(
            503,
            "home_assistant_unavailable",
            f"{entity_ids[0]!r} is not known yet, and Home Assistant, which could "
            "tell whether it has it, is not reachable now: try again when it is "
            "back (Settings shows the connection)",
        ) from None
    except HAAuthError:
        raise ApiError(
            503,
            "home_assistant_unavailable",
            f"{entity_ids[0]!r} is not known yet, and Home Assistant, which could "
            "tell, refuses the companion's access token: save a new one on the "
            "Settings page",
        ) from None
    except HAError:
        raise ApiError(
            502,
            "home_assistant_error",
            f"Home Assistant could not say whether it has {entity_ids[0]!r}: its "
            "log may say why; try again",
        ) from None


def zone_fields(zone: HomeTimeZone | None) -> TimeZoneFields:
    """What an answer says about HA's time zone (null and not known when never learnt)."""
    return {
        "time_zone": zone.name if zone else None,
        "time_zone_known": zone is not None,
        "time_zone_source": zone.source if zone else None,
    }


async def day_zone(hub: Hub) -> HomeTimeZone:
    """HA's time zone for an answer made of days; 409 when it was never learnt.

    A day needs a zone, and any zone but HA's gives other days than HA's: so without
    it such an answer is refused, never computed in some other zone.
    """
    zone = await hub.ha.time_zone()
    if zone is None:
        raise ApiError(409, "time_zone_unknown", TIME_ZONE_UNKNOWN_MESSAGE)
    return zone
