"""Jobs the API starts: recorded in `jobs`, run in the background, polled by id."""

from __future__ import annotations

import asyncio
import contextlib
from contextvars import ContextVar
import logging
from typing import Any
import uuid

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import PyMongoError

from companion.core import schema

from .results import JOB_ERRORS, JobRunner, utcnow

_LOGGER = logging.getLogger(__name__)

# The API job the current task runs (progress goes to its document).
_CURRENT_JOB: ContextVar[str | None] = ContextVar("energy_tracker_job", default=None)


class ApiJobs:
    """Background jobs of one companion process, each with its document."""

    def __init__(self, database: AsyncDatabase[dict[str, Any]], owner: str) -> None:
        """Jobs recorded as run by `owner`."""
        self._collection = database[schema.JOBS]
        self._owner = owner
        self._tasks: set[asyncio.Task[None]] = set()

    async def submit(self, kind: str, params: dict[str, Any], runner: JobRunner) -> str:
        """Record a job, run it in the background and return its id at once."""
        job_id = uuid.uuid4().hex
        await self._collection.insert_one(
            {
                "_id": job_id,
                "kind": kind,
                "params": params,
                "status": "queued",
                "created_at": utcnow(),
                "owner": self._owner,
            }
        )
        task = asyncio.create_task(self._run(job_id, runner), name=f"job-{kind}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return job_id

    async def report_progress(
        self, phase: str, done: int, total: int, rows: int
    ) -> None:
        """Record the running API job's progress in its document (no-op elsewhere)."""
        job_id = _CURRENT_JOB.get()
        if job_id is None:
            return
        with contextlib.suppress(PyMongoError):
            await self._collection.update_one(
                {"_id": job_id},
                {
                    "$set": {
                        "progress": {
                            "phase": phase,
                            "done": done,
                            "total": total,
                            "rows": rows,
                        }
                    }
                },
            )

    async def _run(self, job_id: str, runner: JobRunner) -> None:
        _CURRENT_JOB.set(job_id)  # the task's own context
        await self._collection.update_one(
            {"_id": job_id}, {"$set": {"status": "running", "started_at": utcnow()}}
        )
        try:
            result = await runner()
        except JOB_ERRORS as err:
            _LOGGER.warning("job %s failed: %s", job_id, err)
            update: dict[str, Any] = {"status": "failed", "error": str(err)}
        except Exception as err:
            _LOGGER.exception("job %s crashed", job_id)
            update = {
                "status": "failed",
                "error": f"internal error: {type(err).__name__}",
            }
        else:
            update = {"status": "succeeded", "result": result}
        with contextlib.suppress(PyMongoError):
            await self._collection.update_one(
                {"_id": job_id}, {"$set": {**update, "finished_at": utcnow()}}
            )

    async def get(self, job_id: str) -> dict[str, Any] | None:
        """The job document, or None."""
        return await self._collection.find_one({"_id": job_id})

    async def wait_idle(self) -> None:
        """Wait for every running job."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def cancel(self) -> None:
        """Cancel every running job and wait for them to end."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
