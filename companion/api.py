"""The JSON API under /api: status, entities, statistics, readings, jobs and settings."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime, timedelta
import ipaddress
import logging
import re
from typing import Any
from urllib.parse import SplitResult, urlsplit

import orjson
from pymongo.errors import PyMongoError
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from . import discovery
from .errors import JSON, ApiError
from .ha_client import (
    FIELD_TOKEN,
    FIELD_URL,
    HAAuthError,
    HACheckError,
    HAConnectionError,
    HAError,
    check_connection,
)
from .hub import Hub
from .jobs import GAPS, Jobs
from .openapi import OPENAPI
from .questdb import QuestDBError
from .core import schema
from .timestamps import iso_utc_z
from .zones import HomeTimeZone

_LOGGER = logging.getLogger(__name__)
ENTITY_ID = discovery.ENTITY_ID
JOB_ID = re.compile(r"^[0-9a-f]{32}$")
MAX_BODY = 1 << 20
MAX_ENTITY_IDS = 1000
# How long a sync naming an undiscovered entity waits for HA to say whether it has it.
LEARN_TIMEOUT = 15.0
# A host name as DNS spells it (after IDNA); IP addresses are checked apart.
HOST_NAME = re.compile(
    r"^(?=.{1,253}\.?$)[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?"
    r"(?:\.[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?)*\.?$"
)
SYNC_LOG_DEFAULT_LIMIT = 50
SYNC_LOG_MAX_LIMIT = 500
READINGS_DEFAULT_LIMIT = 1000
READINGS_MAX_LIMIT = 100_000
MAX_SPAN = {
    "5minute": timedelta(days=31),
    "hour": timedelta(days=400),
    "day": timedelta(days=3700),
    "month": timedelta(days=3700),
}
DAILY_MAX_SPAN = timedelta(days=400)
READINGS_MAX_SPAN = timedelta(days=400)
JOB_MAX_SPAN = timedelta(days=366)
EARLIEST = datetime(1970, 1, 2, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)
CALENDAR_PERIODS = frozenset({"day", "month"})
TIME_ZONE_UNKNOWN_MESSAGE = (
    "Home Assistant's time zone is not known: the companion has never reached Home "
    "Assistant, so it cannot tell where a day starts. Connect Home Assistant on the "
    "Settings page; its time zone is kept from then on, also while it is away."
)


def _hub(request: Request) -> Hub:
    hub: Hub = request.state.hub
    return hub


def _jobs(request: Request) -> Jobs:
    jobs: Jobs = request.state.jobs
    return jobs


def _iso_value(value: object) -> str | None:
    return iso_utc_z(value) if isinstance(value, datetime) else None


def parse_time(raw: object, name: str) -> datetime:
    """Parse an ISO 8601 time (UTC when no offset is given); 400 otherwise."""
    if not isinstance(raw, str) or not 0 < len(raw) <= 64:
        raise ApiError(400, "bad_time", f"{name} must be an ISO 8601 time")
    text = raw.strip().replace(" ", "T")
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ApiError(400, "bad_time", f"{name} must be an ISO 8601 time") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    try:
        moment = moment.astimezone(UTC)
    except (OverflowError, ValueError):
        raise ApiError(400, "bad_time", f"{name} is out of range") from None
    if not EARLIEST <= moment <= LATEST:
        raise ApiError(400, "bad_time", f"{name} is out of range")
    return moment


def time_range(
    source: dict[str, Any],
    start_key: str,
    end_key: str,
    default_span: timedelta,
    max_span: timedelta,
) -> tuple[datetime, datetime]:
    """Validated [start, end) from query or body values, with defaults and a cap."""
    end = (
        parse_time(source[end_key], end_key)
        if source.get(end_key) is not None
        else datetime.now(UTC)
    )
    start = (
        parse_time(source[start_key], start_key)
        if source.get(start_key) is not None
        else end - default_span
    )
    if start >= end:
        raise ApiError(400, "bad_range", f"{start_key} must be before {end_key}")
    if end - start > max_span:
        raise ApiError(
            400, "bad_range", f"the range may span at most {max_span.days} days"
        )
    return start, end


def _check_query(request: Request, allowed: set[str]) -> dict[str, str]:
    query = dict(request.query_params)
    unknown = set(query) - allowed
    if unknown:
        raise ApiError(
            400, "bad_parameter", f"unknown parameter {sorted(unknown)[0]!r}"
        )
    return query


def _entity_id(request: Request) -> str:
    """The entity id named in the path; 404 when it cannot be one."""
    entity_id: str = request.path_params["entity_id"]
    if not ENTITY_ID.match(entity_id):
        raise ApiError(404, "unknown_entity", "unknown entity")
    return entity_id


async def _entity(request: Request) -> dict[str, Any]:
    """The entity document named in the path; 404 when unknown."""
    entity_id = _entity_id(request)
    document: dict[str, Any] | None = (
        await _hub(request).mongo.db[schema.ENTITIES].find_one({"_id": entity_id})
    )
    if document is None:
        raise ApiError(404, "unknown_entity", f"unknown entity {entity_id}")
    return document


async def _body(request: Request) -> dict[str, Any]:
    """The JSON object of a request body ({} when empty)."""
    length = request.headers.get("content-length")
    if length is not None and (not length.isdigit() or int(length) > MAX_BODY):
        raise ApiError(413, "body_too_large", "the request body is too large")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():  # a chunked body has no length to check first
        size += len(chunk)
        if size > MAX_BODY:
            raise ApiError(413, "body_too_large", "the request body is too large")
        chunks.append(chunk)
    raw = b"".join(chunks)
    if not raw.strip():
        return {}
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise ApiError(400, "bad_json", "the body is not valid JSON") from None
    if not isinstance(data, dict):
        raise ApiError(400, "bad_json", "the body must be a JSON object")
    return data


def _only(body: dict[str, Any], allowed: set[str]) -> None:
    unknown = set(body) - allowed
    if unknown:
        raise ApiError(400, "bad_parameter", f"unknown field {sorted(unknown)[0]!r}")


async def _entity_ids(
    request: Request, raw: object, *, required: bool, ask_home_assistant: bool = False
) -> list[str] | None:
    """Validate a list of entity ids; every one must be known (404 otherwise).

    With `ask_home_assistant`, one the companion has not discovered yet is looked
    up in HA and, when HA has it (a state or statistics), written as discovery does.
    """
    if raw is None and not required:
        return None
    if not isinstance(raw, list) or len(raw) > MAX_ENTITY_IDS:
        raise ApiError(
            400,
            "bad_parameter",
            f"entity_ids must be a list of at most {MAX_ENTITY_IDS} ids",
        )
    ids = []
    for item in raw:
        if not isinstance(item, str) or not ENTITY_ID.match(item):
            raise ApiError(
                400, "bad_parameter", "entity_ids holds an invalid entity id"
            )
        ids.append(item)
    ids = sorted(set(ids))
    entities = _hub(request).mongo.db[schema.ENTITIES]
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
    hub = _hub(request)
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


# -- handlers -----------------------------------------------------------------------


async def openapi(request: Request) -> JSON:
    """The OpenAPI document of this API."""
    return JSON(OPENAPI)


def _zone_fields(zone: HomeTimeZone | None) -> dict[str, Any]:
    """What an answer says about HA's time zone (null and not known when never learnt)."""
    return {
        "time_zone": zone.name if zone else None,
        "time_zone_known": zone is not None,
        "time_zone_source": zone.source if zone else None,
    }


async def _day_zone(hub: Hub) -> HomeTimeZone:
    """HA's time zone for an answer made of days; 409 when it was never learnt.

    A day needs a zone, and any zone but HA's gives other days than HA's: so without
    it such an answer is refused, never computed in some other zone.
    """
    zone = await hub.ha.time_zone()
    if zone is None:
        raise ApiError(409, "time_zone_unknown", TIME_ZONE_UNKNOWN_MESSAGE)
    return zone


async def status(request: Request) -> JSON:
    """Health of HA, the databases, the forwarder and the jobs."""
    hub, jobs = _hub(request), _jobs(request)
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
    body: dict[str, Any] = {
        "time": iso_utc_z(now),
        **_zone_fields(zone),
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
            forwarders = []
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
            last = await jobs.last_run("reconciliation")
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


async def entities(request: Request) -> JSON:
    """Known entities with tracked/active flags, unit, classes and last value."""
    query = _check_query(request, {"tracked"})
    flt: dict[str, Any] = {}
    if "tracked" in query:
        if query["tracked"] not in ("true", "false"):
            raise ApiError(400, "bad_parameter", "tracked must be true or false")
        flt["is_tracked"] = query["tracked"] == "true"
    hub = _hub(request)
    async with hub.mongo.db[schema.ENTITIES].find(flt).sort("_id", 1) as cursor:
        documents = await cursor.to_list(10_000)
    last_values: dict[str, tuple[float, datetime]] = {}
    try:
        rows = await hub.questdb.fetch(
            f"SELECT entity_id, value, ts FROM {schema.READINGS_TABLE} "  # noqa: S608 - constant
            "LATEST ON ts PARTITION BY entity_id"
        )
        last_values = {row[0]: (row[1], row[2]) for row in rows}
    except QuestDBError:
        pass  # the list is still useful without last values
    result = []
    for doc in documents:
        last = last_values.get(doc["_id"])
        result.append(
            {
                "entity_id": doc["_id"],
                "friendly_name": doc.get("friendly_name") or doc["_id"],
                "state": last[0] if last else None,
                "last_value": last[0] if last else None,
                "last_value_at": iso_utc_z(last[1]) if last else None,
                "unit_of_measurement": doc.get("unit"),
                "device_class": doc.get("device_class"),
                "state_class": doc.get("state_class"),
                "is_tracked": bool(doc.get("is_tracked", False)),
                "is_active": bool(doc.get("is_active", True)),
                "first_seen": iso_utc_z(doc.get("first_seen")),
                "last_seen": iso_utc_z(doc.get("last_seen")),
            }
        )
    return JSON({"entities": result, "count": len(result)})


async def statistics(request: Request) -> JSON:
    """Statistics of one entity, falling back to aggregated readings."""
    query = _check_query(request, {"start_time", "end_time", "period"})
    period = query.get("period", "hour")
    if period not in schema.STATISTICS_PERIODS:
        raise ApiError(
            400,
            "bad_period",
            f"period must be one of {', '.join(schema.STATISTICS_PERIODS)}",
        )
    start, end = time_range(
        query, "start_time", "end_time", timedelta(days=7), MAX_SPAN[period]
    )
    hub = _hub(request)
    entity_id = _entity_id(request)
    # The entity lookup (MongoDB) and the statistics (QuestDB) at once: one round
    # trip less; an unknown entity still answers 404, whatever the query found.
    lookup = asyncio.ensure_future(_entity(request))
    try:
        # Days and months are HA's; 5-minute and hourly buckets need no zone.
        zone = await _day_zone(hub) if period in CALENDAR_PERIODS else None
        data = await hub.store.statistics(
            entity_id,
            start,
            end,
            period=period,
            time_zone=zone.name if zone else None,
        )
    except BaseException:
        await lookup
        raise
    entity = await lookup
    return JSON(
        {
            "entity_id": entity["_id"],
            "period": period,
            "start_time": iso_utc_z(start),
            "end_time": iso_utc_z(end),
            "time_zone": zone.name if zone else None,
            "time_zone_source": zone.source if zone else None,
            "unit_of_measurement": entity.get("unit"),
            "data": data,
        }
    )


async def daily(request: Request) -> JSON:
    """Per local day (HA's time zone): consumption, average power, peak, count."""
    query = _check_query(request, {"start_time", "end_time"})
    start, end = time_range(
        query, "start_time", "end_time", timedelta(days=30), DAILY_MAX_SPAN
    )
    entity = await _entity(request)
    hub = _hub(request)
    zone = await _day_zone(hub)
    data = await hub.store.daily(
        entity["_id"],
        start,
        end,
        time_zone=zone.name,
        device_class=entity.get("device_class"),
        state_class=entity.get("state_class"),
    )
    return JSON(
        {
            "entity_id": entity["_id"],
            **_zone_fields(zone),
            "unit_of_measurement": entity.get("unit"),
            "data": data,
        }
    )


async def readings(request: Request) -> Response:
    """Raw readings of one entity, newest first, bounded."""
    query = _check_query(request, {"since", "until", "limit", "format"})
    shape = query.get("format", "objects")
    if shape not in ("objects", "columns"):
        raise ApiError(400, "bad_parameter", "format must be objects or columns")
    start, end = time_range(
        query, "since", "until", timedelta(days=1), READINGS_MAX_SPAN
    )
    raw_limit = query.get("limit", str(READINGS_DEFAULT_LIMIT))
    if not raw_limit.isdigit() or len(raw_limit) > 12 or int(raw_limit) < 1:
        raise ApiError(400, "bad_limit", "limit must be a positive integer")
    limit = min(int(raw_limit), READINGS_MAX_LIMIT)
    entity = await _entity(request)
    store = _hub(request).store
    if shape == "columns":
        columns = await store.readings_columns(entity["_id"], start, end, limit)
        head = orjson.dumps(
            {
                "entity_id": entity["_id"],
                "since": iso_utc_z(start),
                "until": iso_utc_z(end),
                "limit": limit,
                "count": columns.count,
                "unit_of_measurement": entity.get("unit"),
            }
        )
        # The columns are ready-made JSON: spliced in, never parsed.
        return Response(
            b"".join((head[:-1], b',"columns":', *columns.json_parts(), b"}")),
            media_type="application/json",
        )
    rows = await store.readings(entity["_id"], start, end, limit)
    return JSON(
        {
            "entity_id": entity["_id"],
            "since": iso_utc_z(start),
            "until": iso_utc_z(end),
            "limit": limit,
            "count": len(rows),
            "unit_of_measurement": entity.get("unit"),
            "readings": rows,
        }
    )


async def _start_job(request: Request, kind: str) -> JSON:
    body = await _body(request)
    allowed = {"entity_ids", "start_time", "end_time"}
    if kind == "statistics_sync":
        allowed.add("period")
    _only(body, allowed)
    period = body.get("period", "hour")
    if period not in schema.STATISTICS_PERIODS:
        raise ApiError(400, "bad_period", "unknown period")
    start, end = time_range(
        body, "start_time", "end_time", timedelta(days=1), JOB_MAX_SPAN
    )
    entity_ids = await _entity_ids(
        request, body.get("entity_ids"), required=False, ask_home_assistant=True
    )
    hub, jobs = _hub(request), _jobs(request)
    if hub.ha.client is None:
        raise ApiError(
            409, "home_assistant_not_configured", "Home Assistant is not configured"
        )
    params = {
        "entity_ids": entity_ids,
        "start_time": iso_utc_z(start),
        "end_time": iso_utc_z(end),
        "period": period,
    }
    if kind == "statistics_sync":
        job_id = await jobs.submit(
            kind,
            params,
            lambda: jobs.statistics_sync(entity_ids, start, end, period=period),
        )
    else:
        job_id = await jobs.submit(
            kind, params, lambda: jobs.backfill(entity_ids, start, end)
        )
    return JSON(
        {
            "job_id": job_id,
            "status": "queued",
            # The path as the client reaches it (base path and /api mount included).
            "status_url": str(request.url_for("job", job_id=job_id).path),
        },
        status_code=202,
    )


async def statistics_sync(request: Request) -> JSON:
    """Start copying HA's statistics into QuestDB (202 + job id)."""
    return await _start_job(request, "statistics_sync")


async def backfill(request: Request) -> JSON:
    """Start back-filling readings and statistics from HA (202 + job id)."""
    return await _start_job(request, "backfill")


async def job(request: Request) -> JSON:
    """Progress and result of a background job."""
    job_id = request.path_params["job_id"]
    document = await _jobs(request).get_job(job_id) if JOB_ID.match(job_id) else None
    if document is None:
        raise ApiError(404, "unknown_job", "unknown job")
    return JSON(
        {
            "job_id": document["_id"],
            "kind": document.get("kind"),
            "status": document.get("status"),
            "params": document.get("params"),
            "created_at": iso_utc_z(document.get("created_at")),
            "started_at": iso_utc_z(document.get("started_at")),
            "finished_at": iso_utc_z(document.get("finished_at")),
            "progress": document.get("progress"),
            "result": document.get("result"),
            "error": document.get("error"),
        }
    )


async def sync_log(request: Request) -> JSON:
    """Recent reconciliation, backfill and recovery runs, newest first."""
    query = _check_query(request, {"limit"})
    raw_limit = query.get("limit", str(SYNC_LOG_DEFAULT_LIMIT))
    if not raw_limit.isdigit() or len(raw_limit) > 12 or int(raw_limit) < 1:
        raise ApiError(400, "bad_limit", "limit must be a positive integer")
    limit = min(int(raw_limit), SYNC_LOG_MAX_LIMIT)
    runs = await _jobs(request).recent_runs(limit)
    return JSON(
        {
            "limit": limit,
            "runs": [
                {
                    "id": str(run.get("_id")),
                    "kind": run.get("kind"),
                    "started_at": _iso_value(run.get("started_at")),
                    "finished_at": _iso_value(run.get("finished_at")),
                    "window_start": _iso_value(run.get("window_start")),
                    "window_end": _iso_value(run.get("window_end")),
                    "entity_count": run.get("entity_count"),
                    "rows": run.get("rows"),
                    "outcome": run.get("outcome"),
                    "error": run.get("error"),
                }
                for run in runs
            ],
        }
    )


async def settings(request: Request) -> JSON:
    """The companion's settings; the HA token is never returned."""
    hub = _hub(request)
    client = hub.ha.client
    return JSON(
        {
            "home_assistant": {
                "url": hub.ha.url,
                "token_set": client is not None,
                "source": hub.ha.source,
                "connected": client.connected if client else False,
            },
            "api_token_required": hub.config.api_token is not None,
            **_zone_fields(await hub.ha.time_zone()),
            "jobs": {
                "enabled": hub.config.jobs_enabled,
                "heartbeat_interval_seconds": hub.config.heartbeat_interval,
                "heartbeat_stale_after_seconds": hub.config.heartbeat_stale_after,
                "reconcile_interval_seconds": hub.config.reconcile_interval,
            },
        }
    )


def _home_assistant_url(raw: object) -> str:
    """The HA base URL as given, checked: http(s)://host[:port][/path]; 400 otherwise."""

    def bad(message: str) -> ApiError:
        return ApiError(400, "bad_url", message, FIELD_URL)

    example = "e.g. http://homeassistant.local:8123 or http://192.168.1.10:8123"
    if not isinstance(raw, str) or not raw.strip():
        raise bad(f"Enter Home Assistant's address, {example}")
    url = raw.strip()
    if len(url) > 2048 or not url.isprintable() or any(c.isspace() for c in url):
        raise bad(f"Enter one address without spaces, {example}")
    try:
        parts = urlsplit(url)
    except ValueError:  # e.g. an unclosed [IPv6 address
        raise bad(f"{url!r} is not a valid address, {example}") from None
    if "://" not in url:
        raise bad(f"Start the address with http:// or https://, e.g. http://{url}")
    if parts.scheme.lower() not in ("http", "https"):
        raise bad(
            f"The address must start with http:// or https://, not {parts.scheme}://"
            f", {example}"
        )
    problem = _authority_problem(parts)
    if problem is not None:
        raise bad(f"{problem}, {example}")
    return url.rstrip("/")


def _authority_problem(parts: SplitResult) -> str | None:
    """What is wrong with the URL's host, port or extras, if anything."""
    if parts.query or parts.fragment:
        return "The address must not have a ?query or #fragment"
    if parts.username is not None or parts.password is not None:
        return (
            "Leave user name and password out of the address: the access token "
            "is what logs in"
        )
    try:
        port = parts.port
    except ValueError:
        port = 0
    if port == 0:
        return "The port must be a number from 1 to 65535"
    host = parts.hostname or ""
    if not host:
        return "The address has no host name"
    if not _valid_host(host):
        return f"{host!r} is not a valid host name or IP address"
    return None


def _valid_host(host: str) -> bool:
    if not host:
        return False
    with contextlib.suppress(ValueError):
        ipaddress.ip_address(host)
        return True
    try:
        ascii_name = host.encode("idna").decode("ascii")
    except UnicodeError:
        return False
    return HOST_NAME.match(ascii_name.lower()) is not None and not all(
        label.isdigit() for label in ascii_name.rstrip(".").split(".")
    )


def _home_assistant_token(raw: object, saved: str | None) -> str:
    """The token given, or the saved one when none is given; 400 otherwise."""

    def bad(message: str) -> ApiError:
        return ApiError(400, "bad_token", message, FIELD_TOKEN)

    if raw is None or (isinstance(raw, str) and not raw.strip()):
        if saved:
            return saved
        raise bad(
            "Enter a long-lived access token: create one in Home Assistant (your "
            "profile → Security → Long-lived access tokens)"
        )
    if not isinstance(raw, str):
        raise bad("The token must be text")
    token = raw.strip()
    if len(token) > 4096:
        raise bad("The token is too long: paste only the long-lived access token")
    if not token.isprintable() or any(c.isspace() for c in token):
        raise bad(
            "The token contains spaces or line breaks: paste only the long-lived "
            "access token, in one piece"
        )
    return token


async def save_home_assistant(request: Request) -> JSON:
    """Test the given HA URL and token, then store them.

    The token may be left out to keep the saved one. Every failure of the test is
    a 4xx with its own code and the field to fix (ha_url or ha_token).
    """
    body = await _body(request)
    _only(body, {"url", "token"})
    hub = _hub(request)
    url = _home_assistant_url(body.get("url"))
    token = _home_assistant_token(body.get("token"), hub.ha.token)
    try:
        version = await check_connection(
            url, token, timeout=hub.config.ha_check_timeout
        )
    except HACheckError as err:
        _LOGGER.info("Home Assistant at %s not saved: %s", url, err.code)
        raise ApiError(422, err.code, err.message, err.field) from None
    await hub.ha.save(url, token)
    return JSON({"success": True, "url": url, "ha_version": version})


async def discover_entities(request: Request) -> JSON:
    """Find energy-related entities in HA and upsert them (new ones not tracked)."""
    await _body(request)
    hub = _hub(request)
    client = hub.ha.client
    if client is None:
        raise ApiError(
            409, "home_assistant_not_configured", "Home Assistant is not configured"
        )
    found = await discovery.discover(client, hub.mongo.db[schema.ENTITIES])
    return JSON({"discovered": len(found), "entities": found})


async def tracked_entities(request: Request) -> JSON:
    """Track exactly the given entities."""
    body = await _body(request)
    _only(body, {"entity_ids"})
    ids = await _entity_ids(request, body.get("entity_ids"), required=True) or []
    collection = _hub(request).mongo.db[schema.ENTITIES]
    # tracked_by marks these as the user's choice, which binds the integration;
    # the integration keeps is_tracked of every other document true to its rules.
    await collection.update_many(
        {"_id": {"$nin": ids}},
        {"$set": {"is_tracked": False, "tracked_by": schema.TRACKED_BY_COMPANION}},
    )
    if ids:
        await collection.update_many(
            {"_id": {"$in": ids}},
            {"$set": {"is_tracked": True, "tracked_by": schema.TRACKED_BY_COMPANION}},
        )
    return JSON({"success": True, "tracked": len(ids), "entity_ids": ids})


def api_routes() -> list[BaseRoute]:
    """Routes mounted under /api."""
    return [
        Route("/openapi.json", openapi, methods=["GET"]),
        Route("/status", status, methods=["GET"]),
        Route("/entities", entities, methods=["GET"]),
        Route("/statistics/sync", statistics_sync, methods=["POST"]),
        Route("/statistics/{entity_id}/daily", daily, methods=["GET"]),
        Route("/statistics/{entity_id}", statistics, methods=["GET"]),
        Route("/readings/{entity_id}", readings, methods=["GET"]),
        Route("/backfill", backfill, methods=["POST"]),
        Route("/jobs/{job_id}", job, methods=["GET"], name="job"),
        Route("/sync-log", sync_log, methods=["GET"]),
        Route("/settings", settings, methods=["GET"]),
        Route("/settings/home-assistant", save_home_assistant, methods=["POST"]),
        Route("/settings/discover-entities", discover_entities, methods=["POST"]),
        Route("/settings/tracked-entities", tracked_entities, methods=["POST"]),
    ]
