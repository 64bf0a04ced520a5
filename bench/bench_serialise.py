"""Readings → ILP: the integration's serialiser beside the DataFrame path pandas would give.

`python -m bench.bench_serialise [--rows N] [--rounds R]`: the same batch (100
entities, numbers with a few gaps, attributes once per entity) through
`core.ilp.serialise_readings` and through the questdb client's `Buffer.dataframe`,
the path the integration would take if it required pandas. Both are timed in
alternating rounds in one process; the median and range of rows/s are printed.
No server is needed: this is what the executor spends per batch.
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Any

import numpy as np

from custom_components.energy_tracker.capture import Readings
from custom_components.energy_tracker.core.ilp import (
    reading_values,
    serialise_readings,
    timestamp_micros,
)

ENTITIES = 100
ATTRIBUTES = {
    "device_class": "energy",
    "unit_of_measurement": "kWh",
    "state_class": "total_increasing",
}


def _readings(rows: int) -> Readings:
    readings = Readings()
    for row in range(rows):
        readings.entity_ids.append(f"sensor.meter_{row % ENTITIES}")
        readings.states.append(
            "unavailable" if row % 997 == 0 else f"{row * 0.001:.3f}"
        )
        readings.timestamps.append(1_700_000_000.0 + row * 0.01)
        if row < ENTITIES:
            readings.attributes[row] = ATTRIBUTES
    return readings


def _dataframe_path(readings: Readings, max_rows: int) -> int:
    """Serialise with pandas and Buffer.dataframe, as a pandas-based writer would."""
    import pandas as pd  # type: ignore[import-untyped]  # only this reference needs it
    from questdb import Protocol, Sender

    values = np.array(
        [np.nan if v is None else v for v in reading_values(readings.states)]
    )
    frame = pd.DataFrame(
        {
            "entity_id": np.array(readings.entity_ids, dtype=object),
            "unit": "kWh",
            "device_class": "energy",
            "state_class": "total_increasing",
            "source": "live",
            "value": values,
            "ts": (timestamp_micros(readings.timestamps) * 1000).view("datetime64[ns]"),
        }
    )
    written = 0
    # The client's public way to a buffer: a sender that is never flushed.
    sender = Sender(
        Protocol.Http, "localhost", 9000, protocol_version=1, init_buf_size=1 << 20
    )
    sender.establish()  # type: ignore[no-untyped-call]  # unannotated in the stub
    for offset in range(0, len(frame), max_rows):
        buffer = sender.new_buffer()
        # 8,192-row slices, as such a writer must to keep each hold of the GIL short.
        end = min(offset + max_rows, len(frame))
        for start in range(offset, end, 8192):
            buffer.dataframe(
                frame.iloc[start : min(start + 8192, end)],
                table_name="energy_readings",
                symbols=["entity_id", "unit", "device_class", "state_class", "source"],
                at="ts",
            )
        written += len(bytes(buffer))
    return written


def main() -> None:
    """Time both paths in alternating rounds and print rows/s."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--max-rows", type=int, default=50_000)
    args = parser.parse_args()
    readings = _readings(args.rows)
    rates: dict[str, list[float]] = {"ours": [], "pandas": []}
    paths: dict[str, Any] = {
        "ours": lambda: serialise_readings(readings, "live", args.max_rows),
        "pandas": lambda: _dataframe_path(readings, args.max_rows),
    }
    for _ in range(args.rounds):
        for name, run in paths.items():
            started = time.perf_counter()
            run()
            rates[name].append(args.rows / (time.perf_counter() - started))

    def line(name: str) -> str:
        found = rates[name]
        return (
            f"{statistics.median(found):10,.0f} rows/s "
            f"[{min(found):,.0f} .. {max(found):,.0f}]"
        )

    print(f"Readings -> ILP lines, {args.rows:,} rows, {args.rounds} rounds each:")
    print(f"  energy_tracker (numpy columns, Buffer.row)   {line('ours')}")
    print(f"  DataFrame path (pandas, Buffer.dataframe)   {line('pandas')}   reference")
    print(
        "  pandas / ours: "
        f"{statistics.median(rates['pandas']) / statistics.median(rates['ours']):.2f}x"
    )


if __name__ == "__main__":
    main()
