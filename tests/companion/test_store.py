"""ILP writes of the store against the real QuestDB: history, readings and statistics."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given, settings, strategies as st

from companion.core import ilp, schema
from companion.store import StatisticRow
from companion.store.history_writes import _history_body, _run_rows, _runs_series
from companion.store.series_frame import FrameSeries
from tests.servers import Servers, wait_for_rows

from .conftest import Companion
from .readings_path import (
    Reading,
    history_to_readings,
    serialise_row_by_row,
    write_readings,
)


async def test_history_lines_equal_the_readings_path(
    companion: Companion, servers: Servers, entity_suffix: str
) -> None:
    """write_history stores exactly what history_to_readings + write_readings would.

    A gap (unavailable) is a row without a value, as on the live path; a state
    that is no finite number (nan) is not written.
    """
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
    assert written == 5
    expected = [r for r in history_to_readings(slow, states) if lower <= r.ts < upper]
    await write_readings(companion.hub.store, expected)
    query = (
        "select ts, value, unit, device_class, state_class, source "
        "from energy_readings where entity_id = '{}' order by ts"
    )
    got = await wait_for_rows(servers, query.format(fast), 5)
    want = await wait_for_rows(servers, query.format(slow), 5)
    assert got == want
    assert [row[1] for row in got] == [1.5, None, 1e-08, 1.5e17, 2000.0]
    assert got[0][0].endswith(".123457Z")
    assert {row[5] for row in got} == {"backfill"}
    assert [row[2] for row in got] == ["kWh"] * 5


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
    await write_readings(
        companion.hub.store, [Reading(start, odd, 1.0, "m³", "gas", "total", "a b,c=d")]
    )
    got = await wait_for_rows(
        servers,
        f"select unit, source from energy_readings where entity_id = '{odd}'",
        1,
    )
    assert got == [["m³", "a b,c=d"]]


_STATES = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(-(10**20), 10**20).map(str),
    st.sampled_from(
        ["unavailable", "unknown", "", "None", "nan", "-inf", "1e400", " 12 ", "1_0"]
    ),
    st.text(max_size=4),
)
_ITEMS: st.SearchStrategy[dict[str, Any]] = st.fixed_dictionaries(
    {
        "s": _STATES,
        "lu": st.one_of(
            st.floats(1.7e9, 1.7e9 + 7200, allow_nan=False),
            st.floats(allow_nan=True, allow_infinity=True),
            st.integers(1_700_000_000, 1_700_007_200),
        ),
    },
    optional={
        "a": st.sampled_from(
            [
                {},
                {"unit_of_measurement": "Wh", "device_class": "energy"},
                {"unit_of_measurement": "kWh", "state_class": "total"},
            ]
        ),
    },
)


def _parsed(body: bytes) -> list[tuple[bytes, float | None, int]]:
    """Lines as (prefix, value, nanos); a gap's NaN as None (NaN equals nothing)."""
    rows: list[tuple[bytes, float | None, int]] = []
    for line in body.splitlines():
        head, _, nanos = line.rpartition(b" ")
        prefix, _, value = head.rpartition(b"=")
        rows.append((prefix, None if value == b"NaN" else float(value), int(nanos)))
    return rows


_NUMBER_ITEMS: st.SearchStrategy[dict[str, Any]] = _ITEMS.map(
    lambda item: {
        **item,
        "s": item["s"] if _is_number(item["s"]) else "unknown",
        "lu": item["lu"] or 1.0,  # a zero lu means "see lc", which is not there
    }
)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


@given(states=st.lists(_ITEMS, max_size=40), drop_lu=st.booleans())
@settings(max_examples=300, deadline=None)
def test_history_body_equals_the_row_by_row_conversion(
    states: list[dict[str, Any]], drop_lu: bool
) -> None:
    """numpy's parse, rounding and printing give the rows (and values) `float` does."""
    _assert_row_by_row(states, drop_lu=drop_lu)


@given(states=st.lists(_NUMBER_ITEMS, max_size=40), drop_lu=st.booleans())
@settings(max_examples=200, deadline=None)
def test_group_of_runs_in_one_pass_equals_the_row_by_row_conversion(
    states: list[dict[str, Any]], drop_lu: bool
) -> None:
    """States numpy takes whole are converted for all runs at once, with each run's prefix and factor."""
    assert _assert_row_by_row(states, drop_lu=drop_lu) or not states


def _assert_row_by_row(states: list[dict[str, Any]], *, drop_lu: bool) -> bool:
    """Compare `_history_body` with `_run_rows` per state; True if one numpy pass did it."""
    if drop_lu and states:
        # HA leaves lu out when it equals lc.
        states[0] = {**states[0], "lc": states[0].pop("lu")}
    lower, upper = 1_700_000_000_000_000, 1_700_003_600_000_000
    history = {"sensor.x": states, "sensor.y": states[::-1], "sensor.z": states[:3]}
    body, rows = _history_body(history, list(history), lower, upper, "backfill")
    expected: list[FrameSeries] = []
    for entity_id, series in history.items():
        attributes: Mapping[str, Any] = {}
        for index, item in enumerate(series):
            if "a" in item or not index:
                attributes = item.get("a") or attributes
            symbols, factor = ilp.reading_symbols(entity_id, attributes, "backfill")
            expected += _run_rows((symbols, factor, [item]), lower, upper)
    assert rows == sum(len(nanos) for _, _, nanos in expected)
    # The frame path's bytes are the row path's, row by row.
    by_row = [(symbols, v.tolist(), n.tolist()) for symbols, v, n in expected]
    assert body == (serialise_row_by_row(by_row, protocol_version=2) if rows else b"")
    runs = [
        (*ilp.reading_symbols(entity_id, {}, "backfill"), series)
        for entity_id, series in history.items()
        if series
    ]
    return bool(runs) and _runs_series(runs, lower, upper) is not None
