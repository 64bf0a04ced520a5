"""The backfill and flush services against the recorder and the real QuestDB."""

from __future__ import annotations

from datetime import datetime, timedelta

from homeassistant.components.recorder.models import (
    StatisticData,
    StatisticMeanType,
    StatisticMetaData,
)
from homeassistant.components.recorder.statistics import async_import_statistics
from homeassistant.const import EVENT_HOMEASSISTANT_STOP
from homeassistant.core import Context, HomeAssistant, State
from homeassistant.exceptions import (
    HomeAssistantError,
    ServiceValidationError,
    Unauthorized,
)
from homeassistant.util import dt as dt_util
from pymongo.asynchronous.database import AsyncDatabase
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, MockUser  # type: ignore[import-untyped]
from pytest_homeassistant_custom_component.components.recorder.common import (  # type: ignore[import-untyped]
    async_wait_recording_done,
)

from custom_components.energy_tracker.const import CONF_EXCLUDE_ENTITIES, DOMAIN
from tests.servers import Servers, questdb_rows, wait_for_rows

from .conftest import ENERGY, closed_port, make_entry, setup_entry


async def test_backfill_matches_recorder_and_is_idempotent(
    hass: HomeAssistant,
    servers: Servers,
    mongodb_database_name: str,
    entity_suffix: str,
    mongo_db: AsyncDatabase[dict[str, object]],
) -> None:
    meter = f"sensor.bf_{entity_suffix}"
    # Excluded from live forwarding, so every row in QuestDB comes from the backfill.
    entry = await setup_entry(
        hass,
        make_entry(
            servers, mongodb_database_name, options={CONF_EXCLUDE_ENTITIES: [meter]}
        ),
    )
    start = dt_util.utcnow() - timedelta(hours=3)
    recorded: list[State] = []
    for value in ["1000", "1500", "unavailable", "2500", "0"]:
        hass.states.async_set(meter, value, {**ENERGY, "unit_of_measurement": "Wh"})
        state = hass.states.get(meter)
        assert state is not None
        recorded.append(state)
    await async_wait_recording_done(hass)

    hour = dt_util.utcnow().replace(minute=0, second=0, microsecond=0)
    metadata = StatisticMetaData(
        has_mean=False,
        mean_type=StatisticMeanType.NONE,
        has_sum=True,
        name=None,
        source="recorder",
        statistic_id=meter,
        unit_class="energy",
        unit_of_measurement="Wh",
    )
    imported = [
        StatisticData(start=hour - timedelta(hours=2), state=1000.0, sum=1000.0),
        StatisticData(start=hour - timedelta(hours=1), state=2500.0, sum=2500.0),
    ]
    async_import_statistics(hass, metadata, imported)
    await async_wait_recording_done(hass)

    call = {"entity_ids": [meter], "start": start.isoformat()}
    first = await hass.services.async_call(
        DOMAIN, "backfill", call, blocking=True, return_response=True
    )
    assert first is not None
    assert first["entities"] == 1
    assert first["readings"] == 5
    assert first["statistics"] == 2
    # Logged with the fields the companion's runs have, which its API reads.
    run = await mongo_db["sync_log"].find_one({"kind": "backfill"})
    assert run is not None
    assert (run["source"], run["outcome"], run["error"]) == ("integration", "ok", None)
    assert (run["entity_count"], run["entities"], run["rows"]) == (1, [meter], 7)
    assert isinstance(run["finished_at"], datetime)
    assert isinstance(run["started_at"], datetime)
    assert run["finished_at"] >= run["started_at"]
    rows = await wait_for_rows(
        servers,
        f"select ts, value, unit, source from energy_readings where entity_id = '{meter}' order by ts",
        5,
    )
    assert rows == [
        [
            s.last_updated.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            None if s.state == "unavailable" else float(s.state) / 1000,
            "kWh",
            "backfill",
        ]
        for s in recorded
    ]
    stats = await wait_for_rows(
        servers,
        f"select ts, period, state, sum from energy_statistics where entity_id = '{meter}' order by ts",
        2,
    )
    assert [r[1:] for r in stats] == [["hour", 1.0, 1.0], ["hour", 2.5, 2.5]]

    second = await hass.services.async_call(
        DOMAIN, "backfill", call, blocking=True, return_response=True
    )
    assert second is not None and second["readings"] == 5
    await hass.services.async_call(DOMAIN, "flush", {}, blocking=True)
    await wait_for_rows(servers, "select 1", 1)
    # The second run rewrote the same keys: nothing was added.
    for table in ("energy_readings", "energy_statistics"):
        count = questdb_rows(
            servers, f"select count() from {table} where entity_id = '{meter}'"
        )
        assert count == [[5 if table == "energy_readings" else 2]]
    assert await hass.config_entries.async_unload(entry.entry_id)


async def test_backfill_validation_and_questdb_down(
    hass: HomeAssistant,
    servers: Servers,
    mongodb_database_name: str,
    init_integration: MockConfigEntry,
    entity_suffix: str,
) -> None:
    entry = init_integration
    meter = f"sensor.bv_{entity_suffix}"
    hass.states.async_set(meter, "1", ENERGY)
    now = dt_util.utcnow()
    cases = [
        {
            "entity_ids": [meter],
            "start": now.isoformat(),
            "end": (now - timedelta(hours=1)).isoformat(),
        },
        {
            "entity_ids": [f"sensor.missing_{entity_suffix}"],
            "start": (now - timedelta(hours=1)).isoformat(),
        },
        {"entity_ids": [meter], "start": (now - timedelta(days=30)).isoformat()},
        {
            "entity_ids": [meter],
            "start": (now - timedelta(hours=1)).isoformat(),
            "config_entry_id": "nope",
        },
    ]
    for data in cases:
        with pytest.raises(ServiceValidationError):
            await hass.services.async_call(
                DOMAIN, "backfill", data, blocking=True, return_response=True
            )
    assert await hass.config_entries.async_unload(entry.entry_id)

    down = await setup_entry(
        hass,
        make_entry(
            servers,
            mongodb_database_name,
            questdb_url=f"http://127.0.0.1:{closed_port()}",
        ),
    )
    with pytest.raises(HomeAssistantError, match="QuestDB cannot be reached"):
        await hass.services.async_call(
            DOMAIN,
            "backfill",
            {"entity_ids": [meter], "start": (now - timedelta(hours=1)).isoformat()},
            blocking=True,
            return_response=True,
        )
    assert await hass.config_entries.async_unload(down.entry_id)


async def test_services_are_admin_only(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    hass_read_only_user: MockUser,
) -> None:
    entry = init_integration
    for service, data in (
        ("flush", {}),
        ("backfill", {"start": dt_util.utcnow().isoformat()}),
    ):
        with pytest.raises(Unauthorized):
            await hass.services.async_call(
                DOMAIN,
                service,
                data,
                blocking=True,
                return_response=True,
                context=Context(user_id=hass_read_only_user.id),
            )
    assert await hass.config_entries.async_unload(entry.entry_id)


async def test_home_assistant_stop_writes_the_buffer(
    hass: HomeAssistant,
    servers: Servers,
    init_integration: MockConfigEntry,
    entity_suffix: str,
) -> None:
    entry = init_integration
    meter = f"sensor.stop_{entity_suffix}"
    for i in range(20):
        hass.states.async_set(meter, str(i), ENERGY)
    forwarder = entry.runtime_data.forwarder
    assert forwarder.buffered == 20
    hass.bus.async_fire(EVENT_HOMEASSISTANT_STOP)
    await hass.async_block_till_done()
    assert forwarder.buffered == 0
    await wait_for_rows(
        servers, f"select * from energy_readings where entity_id = '{meter}'", 20
    )
    assert await hass.config_entries.async_unload(entry.entry_id)
