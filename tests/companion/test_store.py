"""ILP writes of the store against the real QuestDB: history, readings and statistics."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from companion.shared import schema
from companion.store import Reading, StatisticRow
from companion.sync import history_to_readings
from tests.servers import Servers, wait_for_rows

from .conftest import Companion


async def test_history_lines_equal_the_readings_path(
    companion: Companion, servers: Servers, entity_suffix: str
) -> None:
    """write_history stores exactly what history_to_readings + write_readings would."""
    fast, slow = (f"sensor.ilp_{kind}_{entity_suffix}" for kind in ("fast", "slow"))
    base = datetime(2026, 4, 1, 12, tzinfo=UTC).timestamp()
    states = [
        {
            "s": "1500",
            "lu": base + 0.1234567,
            "a": {
                "unit_of_measurement": "Wh",
                "device_class": "energy",
                "state_class": "total_increasing",
                "friendly_name": "a, b = c",
            },
        },
        {"s": "unavailable", "lu": base + 1},
        {"s": "0.00001", "lu": base + 2.000001},
        {"s": "1.5e20", "lu": base + 3.5},
        {"s": "nan", "lu": base + 4},
        {"s": "2000", "lu": base + 5, "a": {"unit_of_measurement": "kWh"}},
        {"s": "7", "lu": base + 3600},  # outside the window
    ]
    lower = datetime.fromtimestamp(base, UTC)
    upper = lower + timedelta(minutes=10)
    written = await companion.hub.store.write_history(
        {fast: states}, lower, upper, schema.SOURCE_BACKFILL
    )
    assert written == 4
    expected = [r for r in history_to_readings(slow, states) if lower <= r.ts < upper]
    await companion.hub.store.write_readings(expected)
    query = (
        "select ts, value, unit, device_class, state_class, source "
        "from energy_readings where entity_id = '{}' order by ts"
    )
    got = await wait_for_rows(servers, query.format(fast), 4)
    want = await wait_for_rows(servers, query.format(slow), 4)
    assert got == want
    assert [row[1] for row in got] == [1.5, 1e-08, 1.5e17, 2000.0]
    assert got[0][0].endswith(".123457Z")
    assert {row[5] for row in got} == {"backfill"}
    assert [row[2] for row in got] == ["kWh"] * 4


async def test_statistics_and_readings_lines(
    companion: Companion, servers: Servers, entity_suffix: str
) -> None:
    """Statistics rows keep None columns empty and last_reset; symbols are escaped."""
    entity_id = f"sensor.ilp_stats_{entity_suffix}"
    start = datetime(2026, 4, 2, tzinfo=UTC)
    reset = datetime(2026, 4, 1, 23, 30, 0, 250000, tzinfo=UTC)
    await companion.hub.store.write_statistics(
        [
            StatisticRow(start, entity_id, "hour", 1.0, 2.0, None, None, None, reset),
            StatisticRow(
                start + timedelta(hours=1), entity_id, "hour", 3.0, 4.0, 3.5, 3, 4, None
            ),
        ]
    )
    rows = await wait_for_rows(
        servers,
        "select state, sum, mean, min, max, last_reset from energy_statistics "
        f"where entity_id = '{entity_id}' order by ts",
        2,
    )
    assert rows[0][:5] == [1.0, 2.0, None, None, None]
    assert rows[0][5] == "2026-04-01T23:30:00.250000Z"
    assert rows[1][:5] == [3.0, 4.0, 3.5, 3.0, 4.0]
    odd = f"sensor.ilp_odd_{entity_suffix}"
    await companion.hub.store.write_readings(
        [Reading(start, odd, 1.0, "m³", "gas", "total", "a b,c=d")]
    )
    got = await wait_for_rows(
        servers,
        f"select unit, source from energy_readings where entity_id = '{odd}'",
        1,
    )
    assert got == [["m³", "a b,c=d"]]
