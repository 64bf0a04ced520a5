"""Jobs against real MongoDB, QuestDB and Home Assistant: leases, sync_log, gaps, recovery."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from companion.core import documents, schema
from companion.ha_client import HAClient
from companion.jobs import GAPS, Jobs
from tests.ha import HomeAssistant
from tests.servers import Servers, questdb_rows, wait_for_rows

from .conftest import Companion, add_entity, hour

ENERGY = {
    "unit_of_measurement": "Wh",
    "device_class": "energy",
    "state_class": "total_increasing",
}


async def wait_for_history(
    ha: HomeAssistant, entity_id: str, since: datetime, count: int
) -> None:
    client = HAClient(ha.url, ha.token)
    try:
        for _ in range(100):
            history = await client.history_during_period(
                since, datetime.now(UTC) + timedelta(seconds=5), [entity_id]
            )
            if len(history.get(entity_id, [])) >= count:
                return
            await asyncio.sleep(0.1)
    finally:
        await client.close()
    raise AssertionError(f"HA did not record {count} states of {entity_id}")


def forwarder_state(heartbeat_at: datetime) -> documents.ForwarderState:
    """The heartbeat of a forwarder whose last event came with its heartbeat."""
    return {
        "heartbeat_at": heartbeat_at,
        "last_event_at": heartbeat_at,
        "last_write_at": heartbeat_at,
        "status": documents.FORWARDER_RUNNING,
        "questdb_status": "ok",
        "mongodb_status": "ok",
        "counters": {},
        "spool_rows": 0,
        "spool_bytes": 0,
        "spool_max_bytes": 0,
        "config_entry_id": "entry",
        "ha_version": "2026.2.3",
        "tracked_entities": 1,
    }


def readings_sql(entity_id: str) -> str:
    return f"select ts, value, source from energy_readings where entity_id = '{entity_id}' order by ts"


async def test_leases_are_exclusive_until_released_or_expired(
    companion: Companion,
) -> None:
    first, second = (
        Jobs(companion.hub, owner="replica-a"),
        Jobs(companion.hub, owner="replica-b"),
    )
    assert await first.leases.acquire("job", ttl=60)
    assert await first.leases.acquire("job", ttl=60)  # renewing one's own lease
    assert not await second.leases.acquire("job", ttl=60)
    await first.leases.release("job")
    assert await second.leases.acquire("job", ttl=60)
    # An expired lease is taken over.
    await companion.hub.mongo.db[schema.LEASES].update_one(
        {"_id": "job"},
        {"$set": {"expires_at": datetime.now(UTC) - timedelta(seconds=1)}},
    )
    assert await first.leases.acquire("job", ttl=60)
    # Concurrent attempts: exactly one wins.
    results = await asyncio.gather(
        *(
            Jobs(companion.hub, owner=f"r{i}").leases.acquire("race", ttl=60)
            for i in range(8)
        )
    )
    assert sum(results) == 1
    # A scheduled job is skipped while another replica holds its lease.
    assert await first.leases.acquire("heartbeat_watch", ttl=60)
    assert (await second.recovery.heartbeat_check()) == {
        "skipped": "lease held by another replica"
    }


async def test_sync_log_is_bounded(
    companion: Companion, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(schema, "SYNC_LOG_RETENTION", 5)
    base = datetime.now(UTC) - timedelta(hours=1)
    for i in range(8):
        await companion.jobs.runs.log(
            "reconciliation", base + timedelta(minutes=i), rows=i
        )
    documents = (
        await companion.hub.mongo.db[schema.SYNC_LOG]
        .find({})
        .sort("started_at", 1)
        .to_list()
    )
    assert [d["rows"] for d in documents] == [3, 4, 5, 6, 7]
    last = await companion.jobs.runs.last("reconciliation")
    assert last is not None and last["rows"] == 7


async def test_gap_is_filled_once_capture_resumes_and_a_rerun_adds_nothing(
    companion: Companion,
    home_assistant: HomeAssistant,
    servers: Servers,
    entity_suffix: str,
) -> None:
    entity_id = f"sensor.gap_{entity_suffix}"
    await add_entity(companion, entity_id, tracked=True)
    db = companion.hub.mongo.db
    instance = f"ha-{entity_suffix}"
    stopped = datetime.now(UTC) - timedelta(minutes=10)
    # The forwarder stopped 10 minutes ago: its heartbeat (written as the
    # integration writes it) is stale.
    await documents.write_heartbeat(db, instance, forwarder_state(stopped))
    since = datetime.now(UTC) - timedelta(seconds=1)
    for value in (1000, 1500, 2250):  # HA records states the forwarder never saw
        await asyncio.to_thread(home_assistant.post_state, entity_id, value, ENERGY)
    await wait_for_history(home_assistant, entity_id, since, 3)

    report = await companion.jobs.recovery.heartbeat_check()
    assert report["ha_connected"] is True
    assert report["forwarders"][0]["status"] == "stale"
    gap = await db[GAPS].find_one({"_id": instance})
    assert gap is not None and abs((gap["start"] - stopped).total_seconds()) < 0.01

    await asyncio.to_thread(home_assistant.post_state, entity_id, 3000, ENERGY)
    await wait_for_history(home_assistant, entity_id, since, 4)
    # Capture resumes: a fresh heartbeat.
    await db[schema.FORWARDER_STATE].update_one(
        {"_id": instance}, {"$set": {"heartbeat_at": datetime.now(UTC)}}
    )
    report = await companion.jobs.recovery.heartbeat_check()
    filled = report["forwarders"][0]
    assert filled["status"] == "gap_filled"
    assert filled["rows"] >= 4
    rows = await wait_for_rows(servers, readings_sql(entity_id), 4)
    assert [(r[1], r[2]) for r in rows] == [
        (1.0, "backfill"),
        (1.5, "backfill"),
        (2.25, "backfill"),
        (3.0, "backfill"),
    ]
    assert await db[GAPS].find_one({"_id": instance}) is None
    log = await companion.jobs.runs.last("gap_backfill")
    assert log is not None and log["outcome"] == "ok" and log["entities"] == [entity_id]

    # A second run finds nothing to do, and re-running the backfill never doubles rows.
    again = await companion.jobs.recovery.heartbeat_check()
    assert again["forwarders"][0]["status"] == "ok"
    await companion.jobs.backfills.backfill(
        [entity_id], stopped - timedelta(minutes=1), datetime.now(UTC)
    )
    await asyncio.sleep(1.5)
    assert len(questdb_rows(servers, readings_sql(entity_id))) == 4


async def test_reconciliation_and_startup_recovery(
    companion: Companion,
    home_assistant: HomeAssistant,
    servers: Servers,
    entity_suffix: str,
) -> None:
    entity_id = f"sensor.reconcile_{entity_suffix}"
    await add_entity(companion, entity_id, tracked=True)
    start = hour(datetime.now(UTC)) - timedelta(hours=2)
    rows = [
        {"start": start + timedelta(hours=i), "state": 5.0 + i, "sum": 1.0 + i}
        for i in range(2)
    ]
    await asyncio.to_thread(home_assistant.import_statistics, entity_id, "kWh", rows)
    await asyncio.sleep(0.5)
    result = await companion.jobs.scheduler.reconcile()
    assert result["kind"] == "reconciliation" and result["rows"] == 2
    stats = await wait_for_rows(
        servers,
        f"select ts, sum, state from energy_statistics where entity_id = '{entity_id}' order by ts",
        2,
    )
    assert [(r[1], r[2]) for r in stats] == [(1.0, 5.0), (2.0, 6.0)]
    last = await companion.jobs.runs.last("reconciliation")
    assert last is not None and last["rows"] == 2

    # Start-up recovery without any forwarder: the last 7 days.
    since = datetime.now(UTC) - timedelta(seconds=1)
    await asyncio.to_thread(home_assistant.post_state, entity_id, 4200, ENERGY)
    await wait_for_history(home_assistant, entity_id, since, 1)
    before = datetime.now(UTC)
    recovered = await companion.jobs.recovery.startup_recovery()
    window = datetime.fromisoformat(recovered["window_start"])
    assert abs((before - window) - timedelta(days=7)) < timedelta(seconds=5)
    readings = await wait_for_rows(servers, readings_sql(entity_id), 1)
    assert readings[-1][1] == 4.2
    # With a forwarder that saw its last event an hour ago, recovery starts there.
    last_event = datetime.now(UTC) - timedelta(hours=1)
    await companion.hub.mongo.db[schema.FORWARDER_STATE].insert_one(
        {"_id": "ha-recovery", "heartbeat_at": last_event, "last_event_at": last_event}
    )
    recovered = await companion.jobs.recovery.startup_recovery()
    window = datetime.fromisoformat(recovered["window_start"])
    assert abs(window - (last_event - timedelta(minutes=1))) < timedelta(seconds=1)
    assert (await companion.jobs.runs.last("startup_recovery")) is not None


async def test_scheduler_runs_recovery_then_the_periodic_jobs(
    servers: Servers, mongodb_database_name: str, home_assistant: HomeAssistant
) -> None:
    from .conftest import companion_config, run_companion

    config = companion_config(
        servers,
        mongodb_database_name,
        home_assistant,
        jobs_enabled=True,
        heartbeat_interval=0.3,
        reconcile_interval=0.5,
    )
    async with run_companion(config) as running:
        db = running.hub.mongo.db
        kinds: set[str] = set()
        for _ in range(100):
            kinds = {
                doc["kind"] async for doc in db[schema.SYNC_LOG].find({}, {"kind": 1})
            }
            if {"startup_recovery", "heartbeat_check", "reconciliation"} <= kinds:
                break
            await asyncio.sleep(0.1)
        assert {"startup_recovery", "heartbeat_check", "reconciliation"} <= kinds
        status = (await running.http.get("/api/status")).json()
        assert status["sync"]["last_reconciliation"] is not None
        assert status["sync"]["next_reconciliation"] is not None
        await running.hub.mongo.client.drop_database(mongodb_database_name)
