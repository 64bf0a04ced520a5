"""Background jobs started through the API, and the log of every sync run."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from companion.errors import JSON, ApiError
from companion.timestamps import iso_utc_z

from .common import hub_of, iso_value, iso_z, jobs_of, known_entity_ids
from .models import BackfillBody, JobPath, StatisticsSyncBody, SyncLogQuery
from .responses import JobAccepted, JobAnswer, SyncLogAnswer
from .spec import RouteTable

JOB_ERRORS = (400, 401, 403, 404, 409, 413, 415, 502, 503)

routes = RouteTable()


async def _start_job(
    request: Request, body: BackfillBody, kind: str, period: str
) -> Response:
    start, end = body.window
    entity_ids = (
        None
        if body.entity_ids is None
        else await known_entity_ids(request, body.entity_ids, ask_home_assistant=True)
    )
    hub, jobs = hub_of(request), jobs_of(request)
    if hub.ha.client is None:
        raise ApiError(
            409, "home_assistant_not_configured", "Home Assistant is not configured"
        )
    params: dict[str, Any] = {
        "entity_ids": entity_ids,
        "start_time": iso_z(start),
        "end_time": iso_z(end),
        "period": period,
    }
    if kind == "statistics_sync":
        job_id = await jobs.api_jobs.submit(
            kind,
            params,
            lambda: jobs.backfills.statistics_sync(
                entity_ids, start, end, period=period
            ),
        )
    else:
        job_id = await jobs.api_jobs.submit(
            kind, params, lambda: jobs.backfills.backfill(entity_ids, start, end)
        )
    answer: JobAccepted = {
        "job_id": job_id,
        "status": "queued",
        # The path as the client reaches it (base path and /api mount included).
        "status_url": str(request.url_for("job", job_id=job_id).path),
    }
    return JSON(answer, status_code=202)


@routes.post(
    "/statistics/sync",
    answer=JobAccepted,
    status=202,
    errors=JOB_ERRORS,
    description="An entity the companion has not discovered yet is looked up in "
    "Home Assistant (its state, else its statistics) and written as discovery does; "
    "404 unknown_entity only when Home Assistant has neither, 503 when it cannot be "
    "asked.",
)
async def statistics_sync(request: Request, body: StatisticsSyncBody) -> Response:
    """Start copying HA's statistics into QuestDB."""
    return await _start_job(request, body, "statistics_sync", body.period)


@routes.post(
    "/backfill",
    answer=JobAccepted,
    status=202,
    errors=JOB_ERRORS,
    description="Entities not discovered yet are looked up in Home Assistant, as "
    "for /api/statistics/sync.",
)
async def backfill(request: Request, body: BackfillBody) -> Response:
    """Start back-filling readings and statistics from HA."""
    return await _start_job(request, body, "backfill", "hour")


@routes.get("/jobs/{job_id}", answer=JobAnswer, errors=(401, 404, 503), name="job")
async def job(request: Request, path: JobPath) -> Response:
    """Progress (phase, done, total, rows) and result of a job."""
    document = await jobs_of(request).api_jobs.get(path.job_id)
    if document is None:
        raise ApiError(404, "unknown_job", "unknown job")
    answer: JobAnswer = {
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
    return JSON(answer)


@routes.get("/sync-log", answer=SyncLogAnswer, errors=(400, 401, 503))
async def sync_log(request: Request, query: SyncLogQuery) -> Response:
    """Recent reconciliation, backfill and recovery runs, newest first."""
    runs = await jobs_of(request).runs.recent(query.limit)
    answer: SyncLogAnswer = {
        "limit": query.limit,
        "runs": [
            {
                "id": str(run.get("_id")),
                "kind": run.get("kind"),
                "started_at": iso_value(run.get("started_at")),
                "finished_at": iso_value(run.get("finished_at")),
                "window_start": iso_value(run.get("window_start")),
                "window_end": iso_value(run.get("window_end")),
                "entity_count": run.get("entity_count"),
                "rows": run.get("rows"),
                "outcome": run.get("outcome"),
                "error": run.get("error"),
            }
            for run in runs
        ],
    }
    return JSON(answer)
