"""The row-by-row readings path of the tests: `Reading` objects written one row each.

The companion writes HA's history without an object per row (`history_writes`);
this slow path is its reference, and writes single readings for API tests.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
import math
from typing import Any

from questdb import TimestampNanos

from companion.core import ilp, schema, units
from companion.store import Store
from companion.sync import _number
from companion.timestamps import to_nanos


@dataclass(frozen=True, slots=True)
class Reading:
    """One raw reading in the stored unit; value None: a gap (unknown / unavailable)."""

    ts: datetime
    entity_id: str
    value: float | None
    unit: str | None
    device_class: str | None
    state_class: str | None
    source: str


def history_to_readings(
    entity_id: str,
    states: Sequence[Mapping[str, Any]],
    source: str = schema.SOURCE_BACKFILL,
) -> list[Reading]:
    """Turn HA's compressed history (s, a, lu/lc) into readings in the stored unit."""
    readings: list[Reading] = []
    attributes: Mapping[str, Any] = {}
    for item in states:
        attributes = item.get("a") or attributes
        raw = item.get("s")
        gap = isinstance(raw, str) and raw in units.NO_VALUE_STATES
        value = _number(raw)
        stamp = item.get("lu", item.get("lc"))
        if (value is None and not gap) or stamp is None:
            continue
        device_class = attributes.get("device_class")
        stored: float | None
        if value is None:  # a gap: a row without a value
            stored = None
            unit = units.stored_unit(
                device_class, attributes.get("unit_of_measurement")
            )[0]
        else:
            stored, unit = units.to_stored(
                device_class, attributes.get("unit_of_measurement"), value
            )
        readings.append(
            Reading(
                ts=datetime.fromtimestamp(float(stamp), UTC),
                entity_id=entity_id,
                value=stored,
                unit=unit,
                device_class=device_class,
                state_class=attributes.get("state_class"),
                source=source,
            )
        )
    return readings


async def write_readings(store: Store, readings: Iterable[Reading]) -> int:
    """Write readings one series per row; returns how many rows were sent."""
    series: list[tuple[ilp.Symbols, list[float], list[int]]] = []
    for item in readings:
        symbols: ilp.Symbols = {
            "entity_id": item.entity_id,
            "unit": item.unit or None,
            "device_class": item.device_class or None,
            "state_class": item.state_class or None,
            "source": item.source,
        }
        value = math.nan if item.value is None else item.value
        series.append((symbols, [value], [to_nanos(item.ts)]))
    if not series:
        return 0
    await store.questdb.ensure_schema()
    await store.questdb.write_ilp(serialise_row_by_row(series))
    return len(series)


def serialise_row_by_row(
    series: Iterable[tuple[ilp.Symbols, Sequence[float], Sequence[int]]],
    *,
    protocol_version: int = 1,
) -> bytes:
    """Series as `energy_readings` rows, one `Buffer.row` per reading.

    The oracle of the companion's column-by-column path (`series_frame`): per series
    its symbols, values in the stored unit (NaN: a gap) and nanoseconds.
    """
    buffer = ilp.new_buffer(protocol_version)
    for symbols, values, at in series:
        for value, moment in zip(values, at, strict=True):
            buffer.row(
                schema.READINGS_TABLE,
                symbols=symbols,
                columns={"value": value},
                at=TimestampNanos(moment),
            )
    return bytes(buffer)
