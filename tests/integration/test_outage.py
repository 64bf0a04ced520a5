"""QuestDB goes away mid-stream and comes back: every row exactly once, across restarts."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
import logging
import os
from pathlib import Path
import subprocess

from homeassistant.core import HomeAssistant
from homeassistant.helpers import issue_registry as ir
import pytest

from custom_components.energy_tracker.const import (
    CONF_SPOOL_MAX_MB,
    DOMAIN,
    STATUS_DISCONNECTED,
    STATUS_OK,
)
from tests.servers import SERVICES_SCRIPT, Servers, questdb_rows, wait_for_rows

from .conftest import (
    ENERGY,
    Refusing,
    closed_port,
    make_entry,
    questdb_refusing,
    setup_entry,
)


def _services(servers: Servers, *args: str) -> None:
    env = {
        **os.environ,
        "QUESTDB_HTTP_PORT": str(servers.questdb_http_port),
        "QUESTDB_PG_PORT": str(servers.questdb_pg_port),
        "MONGODB_PORT": str(servers.mongodb_port),
    }
    result = subprocess.run(
        [str(SERVICES_SCRIPT), *args],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]


async def _fire(hass: HomeAssistant, entity_id: str, start: int, count: int) -> None:
    for i in range(start, start + count):
        hass.states.async_set(entity_id, str(i), ENERGY)
        if i % 50 == 0:
            await asyncio.sleep(0.01)


async def test_questdb_killed_mid_stream_and_across_restart(
    hass: HomeAssistant,
    servers: Servers,
    mongodb_database_name: str,
    entity_suffix: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="custom_components.energy_tracker")
    entry = await setup_entry(hass, make_entry(servers, mongodb_database_name))
    forwarder = entry.runtime_data.forwarder
    meter = f"sensor.outage_{entity_suffix}"
    sql = f"select value from energy_readings where entity_id = '{meter}'"
    try:
        await _fire(hass, meter, 0, 300)
        await forwarder.async_flush()
        assert forwarder.stats.questdb_status == STATUS_OK

        await asyncio.to_thread(_services, servers, "kill", "questdb")
        await _fire(hass, meter, 300, 300)
        await forwarder.async_flush()
        await _fire(hass, meter, 600, 300)
        await forwarder.async_flush()
        assert forwarder.stats.questdb_status == STATUS_DISCONNECTED
        assert forwarder.spool.rows == 600
        pending = [
            s
            for s in hass.states.async_all("sensor")
            if s.entity_id.endswith("rows_pending_in_the_spool")
        ]
        # Counters reach the sensors at most every 10 s; statuses at once.
        assert len(pending) == 1 and int(pending[0].state) > 0

        # HA restarts (unload + set up again) while QuestDB is still down.
        await _fire(hass, meter, 900, 100)
        assert await hass.config_entries.async_unload(entry.entry_id)
        await hass.async_block_till_done()
        spool_dir = Path(
            hass.config.path(".storage", "energy_tracker_spool", entry.entry_id)
        )
        assert sum(int(p.stem.split("-")[1]) for p in spool_dir.glob("*-*.ilp")) == 700
        assert await hass.config_entries.async_setup(entry.entry_id)
        await hass.async_block_till_done()
        forwarder = entry.runtime_data.forwarder
        assert forwarder.spool.rows == 700
        await _fire(hass, meter, 1000, 200)
        await forwarder.async_flush()
        assert forwarder.spool.rows == 900
    finally:
        await asyncio.to_thread(_services, servers, "start", "questdb")

    result = await forwarder.async_flush()
    assert forwarder.stats.questdb_status == STATUS_OK
    assert forwarder.spool.rows == 0
    assert result["spool_rows_pending"] == 0
    rows = await wait_for_rows(servers, sql, 1200)
    assert sorted(r[0] for r in rows) == [float(i) for i in range(1200)]
    counts = questdb_rows(
        servers,
        f"select count(), count_distinct(ts) from energy_readings where entity_id = '{meter}'",
    )
    assert counts == [[1200, 1200]]
    messages = [
        r.getMessage()
        for r in caplog.records
        if r.name.startswith("custom_components.energy_tracker")
    ]
    assert (
        sum("QuestDB is unavailable" in m for m in messages) == 2
    )  # once per run of the entry
    assert sum("QuestDB is available again" in m for m in messages) == 1
    assert await hass.config_entries.async_unload(entry.entry_id)


async def test_spool_bound_and_repair_issues(
    hass: HomeAssistant,
    servers: Servers,
    mongodb_database_name: str,
    entity_suffix: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    entry = await setup_entry(
        hass,
        make_entry(
            servers,
            mongodb_database_name,
            options={CONF_SPOOL_MAX_MB: 1},
            questdb_url=f"http://127.0.0.1:{closed_port()}",
        ),
    )
    forwarder = entry.runtime_data.forwarder
    issues = ir.async_get(hass)
    meter = f"sensor.full_{entity_suffix}"
    for _ in range(10):
        await _fire(hass, meter, 0, 1000)
        await forwarder.async_flush()
    assert forwarder.stats.questdb_status == STATUS_DISCONNECTED
    assert forwarder.spool.bytes <= 1024 * 1024
    assert forwarder.spool.rows > 0
    assert forwarder.stats.rows_dropped > 0
    assert forwarder.spool.rows + forwarder.stats.rows_dropped == 10_000
    assert caplog.text.count("spool is full") == 1  # once, not per batch
    assert (
        issues.async_get_issue(DOMAIN, f"spool_nearly_full_{entry.entry_id}")
        is not None
    )
    # A higher limit: the spool takes readings again, and says how many it dropped.
    dropped = forwarder.stats.rows_dropped
    hass.config_entries.async_update_entry(
        entry, options={**entry.options, CONF_SPOOL_MAX_MB: 2}
    )
    await hass.async_block_till_done()
    await _fire(hass, meter, 10_000, 1000)
    await forwarder.async_flush()
    assert forwarder.stats.rows_dropped == dropped
    assert f"spool has room again; {dropped} reading(s) were dropped" in caplog.text
    assert issues.async_get_issue(DOMAIN, f"questdb_down_{entry.entry_id}") is None
    # Down for more than 15 minutes.
    assert forwarder.stats.questdb.down_since is not None
    forwarder.stats.questdb.down_since -= 16 * 60
    await forwarder.async_flush()
    assert issues.async_get_issue(DOMAIN, f"questdb_down_{entry.entry_id}") is not None
    # Unloading takes the issues away.
    assert await hass.config_entries.async_unload(entry.entry_id)
    assert issues.async_get_issue(DOMAIN, f"spool_nearly_full_{entry.entry_id}") is None
    assert issues.async_get_issue(DOMAIN, f"questdb_down_{entry.entry_id}") is None


@pytest.fixture
async def questdb_refusing_views(
    servers: Servers,
) -> AsyncIterator[tuple[str, Refusing]]:
    """The real QuestDB behind a proxy that answers CREATE MATERIALIZED VIEW as a
    release without materialized views does (HTTP 400, an error body)."""
    async with questdb_refusing(
        servers,
        lambda query: query.lstrip().upper().startswith("CREATE MATERIALIZED"),
        "unexpected token [MATERIALIZED]",
    ) as (url, refusing):
        yield url, refusing


async def test_refused_tables_are_logged_once_and_rows_wait_in_the_spool(  # noqa: PLR0917 - fixtures
    hass: HomeAssistant,
    servers: Servers,
    mongodb_database_name: str,
    entity_suffix: str,
    questdb_refusing_views: tuple[str, Refusing],
    caplog: pytest.LogCaptureFixture,
) -> None:
    url, refusing = questdb_refusing_views
    entry = await setup_entry(
        hass, make_entry(servers, mongodb_database_name, questdb_url=url)
    )
    forwarder = entry.runtime_data.forwarder
    meter = f"sensor.refused_{entity_suffix}"
    for value in range(5):
        hass.states.async_set(meter, str(value), ENERGY)
        await forwarder.async_flush()
    assert forwarder.stats.questdb_status == STATUS_DISCONNECTED
    assert forwarder.stats.rows_spooled == 5
    refusals = [r for r in caplog.records if "refused to create" in r.getMessage()]
    assert len(refusals) == 1
    assert "unexpected token [MATERIALIZED]" in refusals[0].getMessage()
    assert refusals[0].levelno == logging.ERROR

    refusing.on = False  # QuestDB upgraded
    await forwarder.async_flush()
    assert forwarder.stats.questdb_status == STATUS_OK
    rows = await wait_for_rows(
        servers, f"select value from energy_readings where entity_id = '{meter}'", 5
    )
    assert sorted(row[0] for row in rows) == [0.0, 1.0, 2.0, 3.0, 4.0]
    assert await hass.config_entries.async_unload(entry.entry_id)
