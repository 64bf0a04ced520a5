"""The hot path end to end: state changes on HA's bus → rows in the real QuestDB."""

from __future__ import annotations

import asyncio
from datetime import datetime
from pathlib import Path
from typing import Any

from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import EVENT_STATE_CHANGED
from homeassistant.core import (
    Event,
    EventStateChangedData,
    HomeAssistant,
    State,
    callback,
)
from homeassistant.helpers import entity_registry as er
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import InvalidOperation
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry  # type: ignore[import-untyped]
from pytest_homeassistant_custom_component.components.recorder.common import (  # type: ignore[import-untyped]
    async_wait_recording_done,
)

from custom_components.energy_tracker.const import (
    CONF_EXCLUDE_ENTITIES,
    CONF_EXCLUDE_GLOBS,
    CONF_INCLUDE_ENTITIES,
    CONF_INCLUDE_GLOBS,
    DOMAIN,
    STATUS_OK,
)
from tests.servers import Servers, questdb_rows, wait_for_rows

from .conftest import ENERGY, make_entry, setup_entry


def _iso(ts: datetime) -> str:
    return ts.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _rows_sql(entity_prefix: str) -> str:
    return (
        "select entity_id, ts, value, unit, device_class, state_class, source "
        f"from energy_readings where entity_id like '{entity_prefix}%' order by entity_id, ts"
    )


async def test_n_state_changes_give_n_rows(
    hass: HomeAssistant,
    servers: Servers,
    mongodb_database_name: str,
    entity_suffix: str,
    mongo_db: AsyncDatabase[dict[str, object]],
) -> None:
    entry = await setup_entry(
        hass,
        make_entry(
            servers,
            mongodb_database_name,
            options={
                CONF_INCLUDE_ENTITIES: [f"sensor.inc_{entity_suffix}"],
                CONF_EXCLUDE_ENTITIES: [f"sensor.excl_{entity_suffix}"],
                CONF_EXCLUDE_GLOBS: [f"sensor.*_{entity_suffix}_voltage"],
                CONF_INCLUDE_GLOBS: [f"sensor.glob_{entity_suffix}_*"],
            },
        ),
    )
    meter = f"sensor.m_{entity_suffix}"
    power = f"sensor.p_{entity_suffix}"
    expected: list[tuple[str, str, float | None, str | None]] = []
    states: list[State] = []
    for i in range(50):
        hass.states.async_set(
            meter, str(1000 + i), {**ENERGY, "unit_of_measurement": "Wh"}
        )
        states.append(hass.states.get(meter))  # type: ignore[arg-type]
        expected.append((meter, _iso(states[-1].last_updated), 1.0 + i / 1000, "kWh"))
        hass.states.async_set(
            power,
            str(i / 10),
            {
                "device_class": "power",
                "unit_of_measurement": "kW",
                "state_class": "measurement",
            },
        )
        st = hass.states.get(power)
        assert st is not None
        expected.append((power, _iso(st.last_updated), i / 10 * 1000, "W"))
    # Not tracked: other device classes, other domains, excluded by option or glob.
    hass.states.async_set(
        f"sensor.t_{entity_suffix}",
        "21.5",
        {"device_class": "temperature", "unit_of_measurement": "°C"},
    )
    hass.states.async_set(f"sensor.excl_{entity_suffix}", "5", ENERGY)
    hass.states.async_set(
        f"sensor.x_{entity_suffix}_voltage",
        "5",
        {"device_class": "power", "unit_of_measurement": "W"},
    )
    hass.states.async_set(f"number.m_{entity_suffix}", "5", ENERGY)
    # Tracked by option or glob whatever the device class.
    hass.states.async_set(
        f"sensor.inc_{entity_suffix}", "7", {"unit_of_measurement": "%"}
    )
    inc = hass.states.get(f"sensor.inc_{entity_suffix}")
    hass.states.async_set(f"sensor.glob_{entity_suffix}_a", "8", {})
    glob = hass.states.get(f"sensor.glob_{entity_suffix}_a")
    assert inc is not None and glob is not None
    expected += [
        (inc.entity_id, _iso(inc.last_updated), 7.0, "%"),
        (glob.entity_id, _iso(glob.last_updated), 8.0, None),
    ]
    # A non-numeric state of a tracked sensor is skipped, not written.
    hass.states.async_set(f"sensor.glob_{entity_suffix}_b", "on", {})

    result = await hass.services.async_call(
        DOMAIN, "flush", {}, blocking=True, return_response=True
    )
    assert result is not None and result["rows_written"] == 102
    rows = await wait_for_rows(
        servers,
        f"select entity_id, ts, value, unit from energy_readings where entity_id like '%{entity_suffix}%' order by entity_id, ts",
        102,
    )
    assert len(rows) == 102
    got = sorted((r[0], r[1], round(r[2], 9), r[3]) for r in rows)
    want = sorted(
        (e, ts, round(v, 9) if v is not None else None, u) for e, ts, v, u in expected
    )
    assert got == want
    detail = questdb_rows(
        servers,
        f"select device_class, state_class, source from energy_readings where entity_id = '{meter}' limit 1",
    )
    assert detail == [["energy", "total_increasing", "live"]]
    forwarder = entry.runtime_data.forwarder
    assert forwarder.stats.rows_forwarded == 102
    assert forwarder.stats.states_skipped == 1
    assert forwarder.stats.questdb_status == STATUS_OK

    # MongoDB: one entity document per forwarded entity, and the heartbeat.
    await forwarder.async_sync_mongo()
    doc = await mongo_db["entities"].find_one({"_id": meter})
    assert doc is not None
    assert doc["unit"] == "kWh" and doc["original_unit"] == "Wh"
    assert doc["is_tracked"] is True and doc["is_active"] is True
    assert doc["device_class"] == "energy"
    assert (
        await mongo_db["entities"].count_documents({"_id": {"$regex": entity_suffix}})
        == 5
    )
    heartbeat = await mongo_db["forwarder_state"].find_one({})
    assert heartbeat is not None
    assert heartbeat["status"] == "running"
    assert heartbeat["counters"]["rows_forwarded"] == 102  # type: ignore[index]
    assert heartbeat["spool_rows"] == 0
    assert heartbeat["last_event_at"] is not None
    assert await hass.config_entries.async_unload(entry.entry_id)


async def test_unknown_unavailable_and_counter_reset(
    hass: HomeAssistant,
    servers: Servers,
    init_integration: MockConfigEntry,
    entity_suffix: str,
) -> None:
    entry = init_integration
    meter = f"sensor.reset_{entity_suffix}"
    values = ["100.5", "101", "unavailable", "unknown", "0.2", "1.2"]
    seen: list[State] = []
    for value in values:
        hass.states.async_set(meter, value, ENERGY)
        state = hass.states.get(meter)
        assert state is not None
        seen.append(state)
    await entry.runtime_data.forwarder.async_flush()
    rows = await wait_for_rows(
        servers,
        f"select ts, value from energy_readings where entity_id = '{meter}' order by ts",
        6,
    )
    # A meter reset is stored as read: no fabricated delta, no spike; gaps are NULL rows.
    assert rows == [
        [_iso(s.last_updated), float(v) if v[0].isdigit() else None]
        for s, v in zip(seen, values, strict=True)
    ]
    assert await hass.config_entries.async_unload(entry.entry_id)


async def test_large_buffer_in_batches_with_attribute_changes(
    hass: HomeAssistant,
    servers: Servers,
    mongodb_database_name: str,
    entity_suffix: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A buffer larger than a batch is written in parts; each row keeps its own unit."""
    monkeypatch.setattr("custom_components.energy_tracker.writer.MAX_BATCH_ROWS", 7)
    entry = await setup_entry(hass, make_entry(servers, mongodb_database_name))
    forwarder = entry.runtime_data.forwarder
    meter = f"sensor.parts_{entity_suffix}"
    gone = f"sensor.gone_{entity_suffix}"
    expected: list[list[Any]] = []
    skipped = 0
    for i in range(30):
        # The unit changes mid-buffer (Wh for the first ten, then kWh): HA
        # hands out a new attributes object, and each row uses the one it came with.
        unit = "Wh" if i < 10 else "kWh"
        value = ["nan", "inf", "-inf", "12abc"][i % 4] if i % 5 == 4 else str(i)
        hass.states.async_set(meter, value, {**ENERGY, "unit_of_measurement": unit})
        state = hass.states.get(meter)
        assert state is not None
        if i % 5 == 4:
            skipped += 1
            continue
        kwh = i / 1000 if unit == "Wh" else float(i)
        expected.append([_iso(state.last_updated), round(kwh, 9)])
    hass.states.async_set(gone, "1", ENERGY)
    hass.states.async_remove(gone)  # new_state None: nothing to write for it
    assert forwarder.buffered > 7
    result = await forwarder.async_flush()
    assert result["rows_written"] == len(expected) + 1
    assert forwarder.stats.states_skipped == skipped
    rows = await wait_for_rows(
        servers,
        f"select ts, value from energy_readings where entity_id = '{meter}' order by ts",
        len(expected),
    )
    assert [[ts, round(v, 9)] for ts, v in rows] == expected
    await wait_for_rows(
        servers, f"select * from energy_readings where entity_id = '{gone}'", 1
    )
    assert forwarder.buffered == 0
    assert await hass.config_entries.async_unload(entry.entry_id)


async def test_capture_goes_on_across_flushes(
    hass: HomeAssistant,
    servers: Servers,
    init_integration: MockConfigEntry,
    entity_suffix: str,
) -> None:
    """Each flush takes the buffer's lists whole; the listener fills new ones, units and all."""
    entry = init_integration
    forwarder = entry.runtime_data.forwarder
    meter = f"sensor.rounds_{entity_suffix}"
    expected: list[list[Any]] = []
    for flush in range(3):
        # The unit changes between flushes (Wh, then kWh, then Wh again): the
        # rows after a flush carry the attributes they came with.
        unit = "kWh" if flush == 1 else "Wh"
        for i in range(5):
            value = 100 * flush + i
            hass.states.async_set(
                meter, str(value), {**ENERGY, "unit_of_measurement": unit}
            )
            state = hass.states.get(meter)
            assert state is not None
            kwh = value / 1000 if unit == "Wh" else float(value)
            expected.append([_iso(state.last_updated), round(kwh, 9)])
        assert forwarder.buffered == 5
        result = await forwarder.async_flush()
        assert result["rows_written"] == 5
        assert forwarder.buffered == 0
    rows = await wait_for_rows(
        servers,
        f"select ts, value from energy_readings where entity_id = '{meter}' order by ts",
        len(expected),
    )
    assert [[ts, round(v, 9)] for ts, v in rows] == expected
    assert await hass.config_entries.async_unload(entry.entry_id)


async def test_unload_removes_listener_tasks_and_connections(
    hass: HomeAssistant,
    servers: Servers,
    mongodb_database_name: str,
    entity_suffix: str,
) -> None:
    before = hass.bus.async_listeners().get(EVENT_STATE_CHANGED, 0)
    entry = await setup_entry(hass, make_entry(servers, mongodb_database_name))
    forwarder = entry.runtime_data.forwarder
    assert hass.bus.async_listeners()[EVENT_STATE_CHANGED] == before + 1
    tasks = list(forwarder._tasks)
    assert tasks and all(not t.done() for t in tasks)
    sensors = er.async_entries_for_config_entry(er.async_get(hass), entry.entry_id)
    assert len(sensors) == 5
    hass.states.async_set(f"sensor.u_{entity_suffix}", "1", ENERGY)
    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
    assert hass.bus.async_listeners().get(EVENT_STATE_CHANGED, 0) == before
    assert all(t.done() for t in tasks)
    # What was buffered at unload was written, not lost.
    await wait_for_rows(
        servers,
        f"select * from energy_readings where entity_id = 'sensor.u_{entity_suffix}'",
        1,
    )
    # The MongoDB client is closed: it refuses work.
    with pytest.raises(InvalidOperation):
        await forwarder.mongo_db.command("ping")
    hass.states.async_set(f"sensor.u_{entity_suffix}", "2", ENERGY)
    assert forwarder.buffered == 0


async def test_failed_unload_stops_nothing(
    hass: HomeAssistant,
    servers: Servers,
    mongodb_database_name: str,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Sensors that do not unload leave the forwarder capturing, with a clear error."""
    entry = await setup_entry(hass, make_entry(servers, mongodb_database_name))
    forwarder = entry.runtime_data.forwarder

    async def refuse(*_: object) -> bool:
        return False

    monkeypatch.setattr(hass.config_entries, "async_unload_platforms", refuse)
    assert not await hass.config_entries.async_unload(entry.entry_id)
    assert entry.state is ConfigEntryState.FAILED_UNLOAD
    assert "The Energy Tracker sensors could not be unloaded" in caplog.text
    meter = f"sensor.fu_{mongodb_database_name}"
    hass.states.async_set(meter, "7", ENERGY)
    await forwarder.async_flush()
    rows = await wait_for_rows(
        servers, f"select value from energy_readings where entity_id = '{meter}'", 1
    )
    assert rows == [[7.0]]
    await forwarder.async_stop()


def _spool_files(hass: HomeAssistant, entry_id: str) -> list[Path]:
    return sorted(
        Path(hass.config.path(".storage", "energy_tracker_spool", entry_id)).glob(
            "*.ilp"
        )
    )


async def test_dead_letter_for_rejected_rows(
    hass: HomeAssistant,
    servers: Servers,
    mongodb_database_name: str,
    entity_suffix: str,
) -> None:
    entry = make_entry(servers, mongodb_database_name)
    spool = Path(hass.config.path(".storage", "energy_tracker_spool", entry.entry_id))
    spool.mkdir(parents=True)
    good = f"energy_readings,entity_id=sensor.dl_{entity_suffix},source=live value=1.0 1700000000000000000\n"
    bad = f'energy_readings,entity_id=sensor.dl_{entity_suffix},source=live value="text" 1700000001000000000\n'
    good2 = f"energy_readings,entity_id=sensor.dl_{entity_suffix},source=live value=3.0 1700000002000000000\n"
    (spool / "000000000001-3.ilp").write_text(good + bad + good2)
    await setup_entry(hass, entry)
    forwarder = entry.runtime_data.forwarder
    await forwarder.async_flush()
    rows = await wait_for_rows(
        servers,
        f"select value from energy_readings where entity_id = 'sensor.dl_{entity_suffix}' order by ts",
        2,
    )
    assert rows == [[1.0], [3.0]]
    assert forwarder.stats.rows_rejected == 1
    assert forwarder.spool.rows == 0
    dead = (spool / "dead-letter.ilp").read_text()
    assert bad in dead and "cast error" in dead
    from homeassistant.helpers import issue_registry as ir

    issue = ir.async_get(hass).async_get_issue(
        DOMAIN, f"rows_rejected_{entry.entry_id}"
    )
    assert issue is not None and issue.translation_placeholders is not None
    assert issue.translation_placeholders["count"] == "1"
    assert await hass.config_entries.async_unload(entry.entry_id)
    await asyncio.sleep(0)


async def test_questdb_status_known_before_the_first_reading(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    """The writer checks QuestDB at start: no 'starting' until a sensor changes."""
    entry = init_integration
    forwarder = entry.runtime_data.forwarder
    async with asyncio.timeout(10):
        while forwarder.stats.questdb_status != STATUS_OK:
            await asyncio.sleep(0.05)
    assert forwarder.stats.events_received == 0
    assert await hass.config_entries.async_unload(entry.entry_id)


async def test_states_from_before_the_listener_come_from_the_recorder(
    hass: HomeAssistant,
    servers: Servers,
    mongodb_database_name: str,
    entity_suffix: str,
) -> None:
    """HA serves its API while this entry is still being set up, at start-up: what
    it accepted before the listener was subscribed comes from the recorder."""
    meter = f"sensor.early_{entity_suffix}"
    for value in ("1", "2", "3"):
        hass.states.async_set(meter, value, ENERGY)
    await async_wait_recording_done(hass)
    entry = await setup_entry(hass, make_entry(servers, mongodb_database_name))
    hass.states.async_set(meter, "4", ENERGY)  # live, beside the catch-up
    rows = await wait_for_rows(
        servers, f"select value from energy_readings where entity_id = '{meter}'", 4
    )
    assert sorted(row[0] for row in rows) == [1.0, 2.0, 3.0, 4.0]
    assert await hass.config_entries.async_unload(entry.entry_id)


async def test_states_written_inside_a_state_listener_keep_their_own_values(
    hass: HomeAssistant,
    servers: Servers,
    mongodb_database_name: str,
    entity_suffix: str,
) -> None:
    """A listener that writes states while state_changed is dispatched loses none."""
    entry = await setup_entry(hass, make_entry(servers, mongodb_database_name))
    forwarder = entry.runtime_data.forwarder
    trigger = f"sensor.nt_{entity_suffix}"
    nested = f"sensor.nn_{entity_suffix}"
    brief = f"sensor.nb_{entity_suffix}"

    @callback
    def write_more(event: Event[EventStateChangedData]) -> None:
        if event.data["entity_id"] != trigger:
            return
        # Two values of one entity, and an entity that is gone again before a
        # delivery queued behind this dispatch (HA >= 2026.11) could look it up.
        hass.states.async_set(nested, "1", ENERGY)
        hass.states.async_set(nested, "2", ENERGY)
        hass.states.async_set(brief, "9", ENERGY)
        hass.states.async_remove(brief)

    remove = hass.bus.async_listen(EVENT_STATE_CHANGED, write_more)
    hass.states.async_set(trigger, "5", ENERGY)
    await hass.async_block_till_done()
    remove()
    await forwarder.async_flush()
    rows = await wait_for_rows(
        servers,
        "select entity_id, value from energy_readings"
        f" where entity_id in ('{trigger}', '{nested}', '{brief}') order by entity_id, ts",
        4,
    )
    assert [(row[0], row[1]) for row in rows] == [
        (brief, 9.0),
        (nested, 1.0),
        (nested, 2.0),
        (trigger, 5.0),
    ]
    assert await hass.config_entries.async_unload(entry.entry_id)


async def test_tracking_is_decided_from_the_events_own_state(
    hass: HomeAssistant,
    servers: Servers,
    mongodb_database_name: str,
    entity_suffix: str,
) -> None:
    """An event delivered after its entity was removed is still captured."""
    entry = await setup_entry(hass, make_entry(servers, mongodb_database_name))
    forwarder = entry.runtime_data.forwarder
    meter = f"sensor.late_{entity_suffix}"
    # As HA >= 2026.11 delivers an event queued behind another dispatch: the
    # state machine no longer holds the state the event carries.
    state = State(meter, "3", ENERGY)
    assert hass.states.get(meter) is None
    data: EventStateChangedData = {
        "entity_id": meter,
        "old_state": None,
        "new_state": state,
    }
    hass.bus.async_fire_internal(EVENT_STATE_CHANGED, data)
    await forwarder.async_flush()
    rows = await wait_for_rows(
        servers, f"select value from energy_readings where entity_id = '{meter}'", 1
    )
    assert rows == [[3.0]]
    assert await hass.config_entries.async_unload(entry.entry_id)
