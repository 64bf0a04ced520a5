"""/api/status: health of HA, the databases, the forwarders and the jobs."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime

from pymongo.errors import PyMongoError
from starlette.requests import Request
from starlette.responses import Response

from companion.core import schema
from companion.errors import JSON
from companion.jobs import GAPS
from companion.questdb import QuestDBError
from companion.timestamps import iso_utc_z

from .common import hub_of, iso_z, jobs_of, zone_fields
from .responses import Forwarder, StatusAnswer
from .spec import RouteTable

routes = RouteTable()


@routes.get("/status", answer=StatusAnswer, errors=(401,))
async def status(request: Request) -> Response:
    """Health of HA, the databases, the forwarder and the jobs."""
    hub, jobs = hub_of(request), jobs_of(request)
    now = datetime.now(UTC)
    questdb_up = await hub.questdb.ping()
    mongo_up = await hub.mongo.ping()
    client = hub.ha.client
    ha_up = False
    if client is not None:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(3):  # a status answer never waits for a dead HA
                ha_up = await client.ping()
    zone = await hub.ha.time_zone()
    body: StatusAnswer = {
        "time": iso_z(now),
        **zone_fields(zone),
        "home_assistant": {
            "configured": client is not None,
            "connected": ha_up,
            "url": hub.ha.url,
            "version": client.ha_version if client else None,
            "error": None if ha_up or client is None else client.last_error,
        },
        "databases": {
            "questdb": "connected" if questdb_up else "unavailable",
            "mongodb": "connected" if mongo_up else "unavailable",
        },
        "forwarders": [],
        "event_recorder": {"status": "unknown", "heartbeat_age_seconds": None},
        "entities": {"known": None, "tracked": None},
        "events_today": None,
        "sync": {
            "last_reconciliation": None,
            "next_reconciliation": iso_utc_z(jobs.next_reconciliation),
            "open_gaps": None,
        },
    }
    stale_after = hub.config.heartbeat_stale_after
    if mongo_up:
        try:
            db = hub.mongo.db
            forwarders: list[Forwarder] = []
            async with db[schema.FORWARDER_STATE].find({}) as cursor:
                documents = await cursor.to_list()
            for doc in documents:
                heartbeat = doc.get("heartbeat_at")
                age = None
                if isinstance(heartbeat, datetime):
                    age = (now - heartbeat.astimezone(UTC)).total_seconds()
                last_event = doc.get("last_event_at")
                forwarders.append(
                    {
                        "instance": str(doc["_id"]),
                        "status": doc.get("status"),
                        "heartbeat_at": iso_utc_z(heartbeat)
                        if isinstance(heartbeat, datetime)
                        else None,
                        "heartbeat_age_seconds": age,
                        "stale": age is None or age > stale_after,
                        "last_event_at": iso_utc_z(last_event)
                        if isinstance(last_event, datetime)
                        else None,
                        "spool_rows": doc.get("spool_rows"),
                    }
                )
            body["forwarders"] = forwarders
            if forwarders:
                freshest = min(
                    forwarders,
                    key=lambda f: (
                        f["heartbeat_age_seconds"]
                        if f["heartbeat_age_seconds"] is not None
                        else float("inf")
                    ),
                )
                body["event_recorder"] = {
                    "status": "stale"
                    if freshest["stale"]
                    else (freshest["status"] or "active"),
                    "heartbeat_age_seconds": freshest["heartbeat_age_seconds"],
                    "last_event_at": freshest["last_event_at"],
                }
            body["entities"] = {
                "known": await db[schema.ENTITIES].count_documents({}),
                "tracked": await db[schema.ENTITIES].count_documents(
                    {"is_tracked": True}
                ),
            }
            last = await jobs.runs.last("reconciliation")
            body["sync"]["last_reconciliation"] = (
                iso_utc_z(last["started_at"]) if last else None
            )
            body["sync"]["open_gaps"] = await db[GAPS].count_documents({})
        except PyMongoError:
            body["databases"]["mongodb"] = "unavailable"
    if questdb_up and zone is not None:  # "today" is one of HA's days
        try:
            local = now.astimezone(zone.info)
            midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
            body["events_today"] = await hub.store.reading_count_since(midnight)
        except QuestDBError:
            body["databases"]["questdb"] = "unavailable"
    return JSON(body)
