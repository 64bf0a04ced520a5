"""The companion's JSON API against real QuestDB, MongoDB and Home Assistant."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

from companion.core import schema
from tests.ha import HomeAssistant
from tests.servers import Servers, wait_for_rows

from .conftest import (
    Companion,
    add_entity,
    companion_config,
    error_code,
    run_companion,
    write,
)
from .readings_path import Reading, write_readings


async def test_openapi_and_unknown_routes(companion: Companion) -> None:
    response = await companion.http.get("/api/openapi.json")
    assert response.status_code == 200
    document = response.json()
    assert document["openapi"].startswith("3.")
    assert "/api/statistics/{entity_id}/daily" in document["paths"]
    missing = await companion.http.get("/api/nothing-here")
    assert missing.status_code == 404
    assert error_code(missing) == "not_found"
    wrong_method = await companion.http.delete("/api/status")
    assert wrong_method.status_code == 405


async def test_readings_columns_with_mixed_sources(
    companion: Companion, servers: Servers, entity_suffix: str
) -> None:
    """A window mixing live and backfilled readings: columns equal the objects."""
    entity_id = f"sensor.api_sources_{entity_suffix}"
    await add_entity(companion, entity_id)
    base = datetime(2026, 3, 3, 12, tzinfo=UTC)
    await write_readings(
        companion.hub.store,
        [
            Reading(
                base + timedelta(seconds=i),
                entity_id,
                float(i),
                "kWh",
                "energy",
                "total_increasing",
                schema.SOURCE_BACKFILL if 5 <= i < 9 else schema.SOURCE_LIVE,
            )
            for i in range(12)
        ],
    )
    await wait_for_rows(
        servers,
        f"select ts from energy_readings where entity_id = '{entity_id}'",
        12,
    )
    params = {"since": "2026-03-03T12:00:00Z", "until": "2026-03-03T13:00:00Z"}
    objects = (
        await companion.http.get(f"/api/readings/{entity_id}", params=params)
    ).json()["readings"]
    for since in ("2026-03-03T12:00:00Z", "2026-03-03T12:00:09Z"):
        columns = (
            await companion.http.get(
                f"/api/readings/{entity_id}",
                params={**params, "since": since, "format": "columns"},
            )
        ).json()
        rows = [r for r in objects if r["ts"] >= since]
        assert columns["count"] == len(rows)
        assert columns["columns"] == {
            "ts": [
                int(datetime.fromisoformat(r["ts"]).timestamp() * 1000) for r in rows
            ],
            "value": [r["value"] for r in rows],
            "source": [r["source"] for r in rows],
        }
    assert [r["source"] for r in objects].count("backfill") == 4


async def test_readings_newest_first_bounded_and_validated(
    companion: Companion, servers: Servers, entity_suffix: str
) -> None:
    entity_id = f"sensor.api_readings_{entity_suffix}"
    await add_entity(companion, entity_id)
    base = datetime(2026, 3, 1, 12, tzinfo=UTC)
    points = [(base + timedelta(seconds=i), float(i)) for i in range(20)]
    await write(companion, servers, entity_id, points)

    params = {"since": "2026-03-01T12:00:00Z", "until": "2026-03-01T13:00:00Z"}
    response = await companion.http.get(f"/api/readings/{entity_id}", params=params)
    assert response.status_code == 200
    body = response.json()
    assert [r["value"] for r in body["readings"]] == [
        float(i) for i in reversed(range(20))
    ]
    assert body["readings"][0]["ts"] == "2026-03-01T12:00:19Z"

    limited = await companion.http.get(
        f"/api/readings/{entity_id}", params={**params, "limit": "5"}
    )
    assert [r["value"] for r in limited.json()["readings"]] == [
        19.0,
        18.0,
        17.0,
        16.0,
        15.0,
    ]
    capped = await companion.http.get(
        f"/api/readings/{entity_id}", params={**params, "limit": "999999999"}
    )
    assert capped.status_code == 200
    assert capped.json()["limit"] == 100_000

    columns = await companion.http.get(
        f"/api/readings/{entity_id}",
        params={**params, "limit": "3", "format": "columns"},
    )
    assert columns.json()["columns"] == {
        "ts": [
            int((base + timedelta(seconds=i)).timestamp() * 1000) for i in (19, 18, 17)
        ],
        "value": [19.0, 18.0, 17.0],
        "source": ["live", "live", "live"],
    }
    # Below the limit the columns come straight from QuestDB's JSON: same answer.
    objects = body["readings"]
    every = await companion.http.get(
        f"/api/readings/{entity_id}",
        params={
            "since": "2026-03-01T12:00:00.500Z",
            "until": "2026-03-01T12:00:19Z",
            "format": "columns",
        },
    )
    assert every.headers["content-type"] == "application/json"
    assert every.json()["count"] == 18
    assert every.json()["columns"] == {
        "ts": [
            int(datetime.fromisoformat(r["ts"]).timestamp() * 1000) for r in objects
        ][1:19],
        "value": [r["value"] for r in objects][1:19],
        "source": [r["source"] for r in objects][1:19],
    }
    empty = await companion.http.get(
        f"/api/readings/{entity_id}",
        params={
            "since": "2026-03-02T12:00:00Z",
            "until": "2026-03-02T13:00:00Z",
            "format": "columns",
        },
    )
    assert empty.json()["count"] == 0
    assert empty.json()["columns"] == {"ts": [], "value": [], "source": []}
    bad_format = await companion.http.get(
        f"/api/readings/{entity_id}", params={"format": "xml"}
    )
    assert bad_format.status_code == 400

    window = await companion.http.get(
        f"/api/readings/{entity_id}",
        params={"since": "2026-03-01T12:00:05Z", "until": "2026-03-01T12:00:07Z"},
    )
    assert [r["value"] for r in window.json()["readings"]] == [6.0, 5.0]

    for bad, code in (
        ({"since": "yesterday"}, "bad_time"),
        (
            {"since": "2026-03-02T00:00:00Z", "until": "2026-03-01T00:00:00Z"},
            "bad_range",
        ),
        ({"limit": "0"}, "bad_limit"),
        ({"limit": "-3"}, "bad_limit"),
        (
            {"since": "2020-01-01T00:00:00Z", "until": "2026-01-01T00:00:00Z"},
            "bad_range",
        ),
        ({"bogus": "1"}, "bad_parameter"),
    ):
        response = await companion.http.get(f"/api/readings/{entity_id}", params=bad)
        assert response.status_code == 400, bad
        assert error_code(response) == code
    for unknown in (
        "sensor.nope_" + entity_suffix,
        "not an id",
        "sensor.x';drop table x;--",
    ):
        response = await companion.http.get(f"/api/readings/{unknown}")
        assert response.status_code == 404
        assert error_code(response) == "unknown_entity"


async def test_statistics_stored_rows_win_and_readings_fill_the_rest(
    companion: Companion, servers: Servers, entity_suffix: str
) -> None:
    from companion.store import StatisticRow

    entity_id = f"sensor.api_stats_{entity_suffix}"
    await add_entity(companion, entity_id)
    base = datetime(2026, 3, 2, 0, tzinfo=UTC)
    # Readings every 10 minutes for 3 hours; stored statistics only for the first hour.
    points = [(base + timedelta(minutes=10 * i), 100.0 + i) for i in range(18)]
    await write(companion, servers, entity_id, points)
    await companion.hub.store.write_statistics(
        [StatisticRow(base, entity_id, "hour", 105.0, 5.0, None, None, None, None)]
    )
    await wait_for_rows(
        servers, f"select ts from energy_statistics where entity_id = '{entity_id}'", 1
    )
    response = await companion.http.get(
        f"/api/statistics/{entity_id}",
        params={
            "start_time": "2026-03-02T00:00:00Z",
            "end_time": "2026-03-02T03:00:00Z",
        },
    )
    assert response.status_code == 200
    data = response.json()["data"]
    assert [d["start_time"] for d in data] == [
        "2026-03-02T00:00:00Z",
        "2026-03-02T01:00:00Z",
        "2026-03-02T02:00:00Z",
    ]
    assert [d["source"] for d in data] == ["statistics", "readings", "readings"]
    assert data[0]["sum"] == 5.0
    assert data[1]["end_time"] == "2026-03-02T02:00:00Z"
    assert (data[1]["min"], data[1]["max"], data[1]["state"]) == (106.0, 111.0, 111.0)
    assert data[1]["mean"] == sum(range(106, 112)) / 6

    bad_period = await companion.http.get(
        f"/api/statistics/{entity_id}", params={"period": "week"}
    )
    assert bad_period.status_code == 400
    too_long = await companion.http.get(
        f"/api/statistics/{entity_id}",
        params={
            "period": "5minute",
            "start_time": "2026-01-01T00:00:00Z",
            "end_time": "2026-03-01T00:00:00Z",
        },
    )
    assert error_code(too_long) == "bad_range"


async def test_statistics_window_off_the_hour_takes_both_edges_from_readings(
    companion: Companion, servers: Servers, entity_suffix: str
) -> None:
    from companion.store import StatisticRow

    entity_id = f"sensor.api_edges_{entity_suffix}"
    await add_entity(companion, entity_id)
    base = datetime(2026, 3, 3, 0, tzinfo=UTC)
    points = [(base + timedelta(minutes=10 * i), 200.0 + i) for i in range(18)]
    await write(companion, servers, entity_id, points)
    await companion.hub.store.write_statistics(
        [
            StatisticRow(
                base + timedelta(hours=h),
                entity_id,
                "hour",
                1.0,
                1.0,
                1.0,
                1.0,
                1.0,
                None,
            )
            for h in range(2)
        ]
    )
    await wait_for_rows(
        servers, f"select ts from energy_statistics where entity_id = '{entity_id}'", 2
    )
    response = await companion.http.get(
        f"/api/statistics/{entity_id}",
        params={
            "start_time": "2026-03-03T00:30:00Z",
            "end_time": "2026-03-03T02:30:00Z",
        },
    )
    data = response.json()["data"]
    # Statistics exist for 00:00 and 01:00. The one of 00:00 starts before the
    # window, so the part inside it comes from readings, as does the last bucket.
    assert [(d["start_time"], d["source"]) for d in data] == [
        ("2026-03-03T00:00:00Z", "readings"),
        ("2026-03-03T01:00:00Z", "statistics"),
        ("2026-03-03T02:00:00Z", "readings"),
    ]
    assert (data[0]["min"], data[0]["max"]) == (203.0, 205.0)
    assert (data[2]["min"], data[2]["max"]) == (212.0, 214.0)
    assert data[0]["end_time"] == "2026-03-03T01:00:00Z"


async def test_status_reports_forwarder_heartbeat_and_counts(
    companion: Companion, entity_suffix: str
) -> None:
    now = datetime.now(UTC)
    await companion.hub.mongo.db[schema.FORWARDER_STATE].insert_one(
        {
            "_id": f"ha-{entity_suffix}",
            "heartbeat_at": now - timedelta(seconds=30),
            "last_event_at": now - timedelta(seconds=31),
            "status": "running",
        }
    )
    await add_entity(companion, f"sensor.status_a_{entity_suffix}", tracked=True)
    await add_entity(companion, f"sensor.status_b_{entity_suffix}", tracked=False)
    response = await companion.http.get("/api/status")
    assert response.status_code == 200
    body = response.json()
    assert body["databases"] == {"questdb": "connected", "mongodb": "connected"}
    assert body["home_assistant"]["connected"] is True
    assert body["entities"] == {"known": 2, "tracked": 1}
    assert body["event_recorder"]["status"] == "running"
    assert 29 <= body["event_recorder"]["heartbeat_age_seconds"] < 60
    assert body["forwarders"][0]["stale"] is False
    assert isinstance(body["events_today"], int)
    assert body["time_zone"] == "Europe/Amsterdam"  # HA's, from its config
    assert "token" not in response.text.lower()


async def test_settings_discovery_and_tracking(
    companion: Companion, home_assistant: HomeAssistant, entity_suffix: str
) -> None:
    energy = f"sensor.discover_energy_{entity_suffix}"
    power = f"sensor.discover_power_{entity_suffix}"
    other = f"sensor.discover_temp_{entity_suffix}"
    # A unit alone does not make an energy entity: the integration would not track it.
    no_class = f"sensor.discover_unclassed_{entity_suffix}"
    await asyncio.to_thread(
        home_assistant.post_state,
        energy,
        10,
        {
            "unit_of_measurement": "Wh",
            "device_class": "energy",
            "state_class": "total_increasing",
        },
    )
    await asyncio.to_thread(
        home_assistant.post_state,
        power,
        500,
        {
            "unit_of_measurement": "kW",
            "device_class": "power",
            "state_class": "measurement",
        },
    )
    await asyncio.to_thread(
        home_assistant.post_state,
        no_class,
        2,
        {"unit_of_measurement": "kW", "state_class": "measurement"},
    )
    await asyncio.to_thread(
        home_assistant.post_state,
        other,
        21,
        {"unit_of_measurement": "°C", "device_class": "temperature"},
    )
    response = await companion.http.post("/api/settings/discover-entities")
    assert response.status_code == 200
    found = {e["entity_id"]: e for e in response.json()["entities"]}
    assert energy in found and power in found
    assert other not in found and no_class not in found
    assert found[energy]["unit"] == "kWh"
    # Each entity's current state in HA (the dashboard's "last value").
    assert found[energy]["state"] == "10"
    assert found[power]["state"] == "500"
    listed = (await companion.http.get("/api/entities")).json()["entities"]
    assert {
        e["entity_id"]: e["is_tracked"] for e in listed if "discover" in e["entity_id"]
    } == {
        energy: False,
        power: False,
    }

    tracked = await companion.http.post(
        "/api/settings/tracked-entities", json={"entity_ids": [energy]}
    )
    assert tracked.status_code == 200
    only = (
        await companion.http.get("/api/entities", params={"tracked": "true"})
    ).json()["entities"]
    assert [e["entity_id"] for e in only] == [energy]
    # Marked as the user's choice, which binds the integration's rules.
    chosen = companion.hub.mongo.db[schema.ENTITIES].find(
        {"_id": {"$in": [energy, power]}}, {"tracked_by": 1}
    )
    assert {doc["tracked_by"] async for doc in chosen} == {"companion"}
    unknown = await companion.http.post(
        "/api/settings/tracked-entities",
        json={"entity_ids": [energy, "sensor.missing_" + entity_suffix]},
    )
    assert unknown.status_code == 404
    assert (
        await companion.http.post(
            "/api/settings/tracked-entities", json={"entity_ids": "x"}
        )
    ).status_code == 400
    assert (
        await companion.http.post(
            "/api/settings/tracked-entities",
            content=b"{nope",
            headers={"content-type": "application/json"},
        )
    ).status_code == 400


async def test_home_assistant_settings_are_tested_before_saving(
    companion: Companion, home_assistant: HomeAssistant
) -> None:
    db = companion.hub.mongo.db
    refused = await companion.http.post(
        "/api/settings/home-assistant",
        json={"url": home_assistant.url, "token": "wrong-token"},
    )
    assert refused.status_code == 422
    assert error_code(refused) == "ha_auth_failed"
    assert refused.json()["error"]["field"] == "ha_token"
    unreachable = await companion.http.post(
        "/api/settings/home-assistant",
        json={"url": "http://127.0.0.1:1", "token": "abc"},
    )
    assert error_code(unreachable) == "ha_connection_refused"
    assert unreachable.json()["error"]["field"] == "ha_url"
    assert await db[schema.SETTINGS].find_one({"_id": "home_assistant"}) is None

    saved = await companion.http.post(
        "/api/settings/home-assistant",
        json={"url": home_assistant.url + "/", "token": home_assistant.token},
    )
    assert saved.status_code == 200
    stored = await db[schema.SETTINGS].find_one({"_id": "home_assistant"})
    assert stored is not None and stored["token"] == home_assistant.token
    settings = await companion.http.get("/api/settings")
    body = settings.json()
    assert body["home_assistant"] == {
        "url": home_assistant.url,
        "token_set": True,
        "source": "database",
        "connected": False,
    }
    assert body["time_zone"] == "Europe/Amsterdam"
    assert home_assistant.token not in settings.text


async def test_bearer_token_and_same_origin_rules(
    servers: Servers, mongodb_database_name: str, home_assistant: HomeAssistant
) -> None:
    config = companion_config(
        servers, mongodb_database_name, home_assistant, api_token="s3cret"
    )
    async with run_companion(config) as guarded:
        assert (await guarded.http.get("/api/status")).status_code == 401
        assert (
            await guarded.http.get(
                "/api/status", headers={"Authorization": "Bearer nope"}
            )
        ).status_code == 401
        assert (
            await guarded.http.get(
                "/api/status", headers={"Authorization": "Bearer s3cret"}
            )
        ).status_code == 200
        assert (await guarded.http.get("/api/openapi.json")).status_code == 200
    config = companion_config(servers, mongodb_database_name, home_assistant)
    async with run_companion(config) as open_companion:
        cross = await open_companion.http.post(
            "/api/settings/tracked-entities",
            json={"entity_ids": []},
            headers={"Origin": "http://evil.example"},
        )
        assert cross.status_code == 403
        assert error_code(cross) == "cross_origin"
        same = await open_companion.http.post(
            "/api/settings/tracked-entities",
            json={"entity_ids": []},
            headers={"Origin": "http://127.0.0.1:8199"},
        )
        assert same.status_code == 200
        form = await open_companion.http.post(
            "/api/settings/tracked-entities",
            content=b"entity_ids=x",
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
        assert form.status_code == 415

        async def chunks(total: int, *, json: bool = True) -> AsyncIterator[bytes]:
            """A body without Content-Length (chunked), `total` bytes or more."""
            yield b'{"entity_ids": [' if json else b"entity_ids="
            for _ in range(total // 65_536 + 1):
                yield b" " * 65_536
            yield b"]}" if json else b"x"

        form_chunked = await open_companion.http.post(
            "/api/settings/tracked-entities",
            content=chunks(10, json=False),
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
        assert form_chunked.status_code == 415
        huge = await open_companion.http.post(
            "/api/settings/tracked-entities",
            content=chunks(2 << 20),
            headers={"content-type": "application/json"},
        )
        assert huge.status_code == 413
        assert error_code(huge) == "body_too_large"
        small = await open_companion.http.post(
            "/api/settings/tracked-entities",
            content=chunks(100_000),
            headers={"content-type": "application/json"},
        )
        assert small.status_code == 200, small.text
        await open_companion.hub.mongo.client.drop_database(mongodb_database_name)


async def test_statistics_sync_job_runs_in_background(
    companion: Companion,
    home_assistant: HomeAssistant,
    servers: Servers,
    entity_suffix: str,
) -> None:
    entity_id = f"sensor.api_sync_{entity_suffix}"
    await add_entity(companion, entity_id)
    start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(
        hours=5
    )
    rows = [
        {"start": start + timedelta(hours=i), "state": 2.0 * i, "sum": 2.0 * i}
        for i in range(4)
    ]
    await asyncio.to_thread(home_assistant.import_statistics, entity_id, "kWh", rows)
    await asyncio.sleep(0.5)
    response = await companion.http.post(
        "/api/statistics/sync",
        json={
            "entity_ids": [entity_id],
            "start_time": start.isoformat(),
            "end_time": (start + timedelta(hours=4)).isoformat(),
        },
    )
    assert response.status_code == 202
    job_id = response.json()["job_id"]
    assert response.json()["status_url"] == f"/api/jobs/{job_id}"
    status: dict[str, Any] = {}
    for _ in range(100):
        status = (await companion.http.get(response.json()["status_url"])).json()
        if status["status"] in ("succeeded", "failed"):
            break
        await asyncio.sleep(0.05)
    assert status["status"] == "succeeded", status
    assert status["result"]["rows"] == 4
    assert status["progress"] == {
        "phase": "statistics",
        "done": 1,
        "total": 1,
        "rows": 4,
    }
    runs = (await companion.http.get("/api/sync-log")).json()["runs"]
    assert runs[0]["kind"] == "statistics_sync"
    assert runs[0]["rows"] == 4 and runs[0]["outcome"] == "ok"
    assert runs[0]["entity_count"] == 1
    assert runs[0]["window_start"] == start.isoformat().replace("+00:00", "Z")
    got = await wait_for_rows(
        servers,
        f"select sum from energy_statistics where entity_id = '{entity_id}' and period = 'hour' order by ts",
        4,
    )
    assert [row[0] for row in got] == [0.0, 2.0, 4.0, 6.0]
    assert (await companion.http.get("/api/jobs/" + "0" * 32)).status_code == 404
    assert (await companion.http.get("/api/jobs/bad")).status_code == 404
    unknown = await companion.http.post(
        "/api/backfill", json={"entity_ids": ["sensor.nope_" + entity_suffix]}
    )
    assert unknown.status_code == 404
    extra = await companion.http.post("/api/backfill", json={"what": 1})
    assert extra.status_code == 400


async def test_sync_log_newest_first_limited_and_validated(
    companion: Companion,
) -> None:
    base = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    for i in range(3):
        await companion.jobs.runs.log(
            "reconciliation",
            base + timedelta(minutes=i),
            window=(base - timedelta(hours=3), base),
            entities=["sensor.a", "sensor.b"],
            rows=i,
            outcome="failed" if i == 1 else "ok",
            error="Home Assistant unreachable" if i == 1 else None,
        )
    response = await companion.http.get("/api/sync-log", params={"limit": "2"})
    assert response.status_code == 200
    body = response.json()
    assert body["limit"] == 2
    assert [run["rows"] for run in body["runs"]] == [2, 1]
    failed = body["runs"][1]
    assert set(failed) == {
        "id",
        "kind",
        "started_at",
        "finished_at",
        "window_start",
        "window_end",
        "entity_count",
        "rows",
        "outcome",
        "error",
    }
    assert failed["outcome"] == "failed"
    assert failed["error"] == "Home Assistant unreachable"
    assert failed["entity_count"] == 2
    assert failed["started_at"] == (base + timedelta(minutes=1)).isoformat().replace(
        "+00:00", "Z"
    )
    assert len((await companion.http.get("/api/sync-log")).json()["runs"]) == 3
    capped = await companion.http.get("/api/sync-log", params={"limit": "100000"})
    assert capped.json()["limit"] == 500
    for bad in ("0", "-1", "x", "1.5"):
        answer = await companion.http.get("/api/sync-log", params={"limit": bad})
        assert answer.status_code == 400
        assert error_code(answer) == "bad_limit"
    assert (
        await companion.http.get("/api/sync-log", params={"what": "1"})
    ).status_code == 400
    document = (await companion.http.get("/api/openapi.json")).json()
    assert "/api/sync-log" in document["paths"]


async def test_openapi_document_and_validation_come_from_the_models(
    companion: Companion, entity_suffix: str
) -> None:
    """What the document says is accepted is what the API checks, with its codes."""
    from companion.api.models import PERIODS

    assert PERIODS == schema.STATISTICS_PERIODS
    document = (await companion.http.get("/api/openapi.json")).json()
    paths = document["paths"]
    sync = paths["/api/statistics/sync"]["post"]["requestBody"]["content"][
        "application/json"
    ]["schema"]
    assert sync["additionalProperties"] is False
    assert set(sync["properties"]) == {"entity_ids", "start_time", "end_time", "period"}
    assert sync["properties"]["period"]["enum"] == list(PERIODS)
    backfill = paths["/api/backfill"]["post"]["requestBody"]["content"][
        "application/json"
    ]["schema"]
    assert set(backfill["properties"]) == {"entity_ids", "start_time", "end_time"}
    readings = paths["/api/readings/{entity_id}"]["get"]
    assert [p["name"] for p in readings["parameters"]] == [
        "entity_id",
        "since",
        "until",
        "limit",
        "format",
    ]
    for path_item in paths.values():
        for operation in path_item.values():
            for status, answer in operation["responses"].items():
                schema_ = answer["content"]["application/json"]["schema"]
                if int(status) >= 400:
                    assert schema_ == {"$ref": "#/components/schemas/ErrorBody"}
    for body, code in (
        ({"period": "week"}, "bad_period"),
        ({"start_time": "soon"}, "bad_time"),
        ({"end_time": "1900-01-01T00:00:00Z"}, "bad_time"),
        (
            {"start_time": "2026-03-02T00:00:00Z", "end_time": "2026-03-01T00:00:00Z"},
            "bad_range",
        ),
        (
            {"start_time": "2024-01-01T00:00:00Z", "end_time": "2026-01-01T00:00:00Z"},
            "bad_range",
        ),
        ({"entity_ids": "sensor.a"}, "bad_parameter"),
        ({"entity_ids": ["Not An Id"]}, "bad_parameter"),
        ({"entity_ids": [f"sensor.e{i}" for i in range(1001)]}, "bad_parameter"),
        ({"what": 1}, "bad_parameter"),
    ):
        answer = await companion.http.post("/api/statistics/sync", json=body)
        assert answer.status_code == 400, (body, answer.text)
        assert error_code(answer) == code, (body, answer.text)
        assert answer.json()["error"]["message"], body
    unknown = await companion.http.post("/api/statistics/sync", json={"what": 1})
    assert unknown.json()["error"]["message"] == "unknown field 'what'"
    entity_id = f"sensor.api_models_{entity_suffix}"
    await add_entity(companion, entity_id)
    for params, code in (
        ({"tracked": "yes"}, "bad_parameter"),
        ({"limit": "²"}, "bad_limit"),
    ):
        path = "/api/entities" if "tracked" in params else "/api/sync-log"
        answer = await companion.http.get(path, params=params)
        assert answer.status_code == 400, (params, answer.text)
        assert error_code(answer) == code
    bad_since = await companion.http.get(
        f"/api/readings/{entity_id}", params={"since": "x"}
    )
    assert bad_since.json()["error"]["message"] == "since must be an ISO 8601 time"
    assert (await companion.http.get("/api/jobs/" + "A" * 32)).status_code == 404
