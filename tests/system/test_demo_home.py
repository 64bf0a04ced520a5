"""`make demo`'s home: the overview shows every meter of it as soon as the demo is up.

The stack starts as `scripts/demo.py` starts it (`tools.stack.demo_stack` and
`Stack.start_demo`), once for the whole test: servers, a real Home Assistant with the
demo home's month of statistics and Energy settings, the companion. The last 30 days
must have a figure for every source and device, the meters must keep reading, and
"Sync from HA" on one of them must copy HA's statistics.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
import time
from typing import Any
import urllib.parse

import pytest

from tools.demo_home import DEVICES, GRID_IMPORT, SOLAR
from tools.stack import HTTPStatusError, Stack, StackPorts, demo_stack

# Ports of their own: the stack's `services stop` must never touch another's servers.
PORTS = StackPorts(
    questdb_http=9410,
    questdb_pg=8942,
    mongodb=27427,
    home_assistant=8443,
    companion=8543,
)
ENERGY_TOTALS = (
    "grid_import_kwh",
    "grid_export_kwh",
    "solar_kwh",
    "battery_in_kwh",
    "battery_out_kwh",
)
START_SECONDS = 120  # `make demo` takes about a minute; a slow CI machine more


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _readings(stack: Stack, entity_id: str) -> list[dict[str, Any]]:
    try:
        answer = stack.companion_api("GET", f"/api/readings/{entity_id}")
    except HTTPStatusError as err:
        # The integration registers a new entity with its next entity sync (on a
        # loaded machine that can come after the first readings): none yet.
        if "unknown_entity" in str(err):
            return []
        raise
    # A sensor's "unknown" before its first reading is stored as a gap (None).
    return [r for r in answer["readings"] if r["value"] is not None]


@pytest.mark.system
def test_the_demo_home_is_in_the_overview_from_the_start(
    tmp_path: Path, socket_enabled: None
) -> None:
    stack = demo_stack(tmp_path / "run" / "demo", PORTS)
    try:
        started = time.monotonic()
        stack.start_demo()
        took = time.monotonic() - started
        assert took < START_SECONDS, f"the demo took {took:.0f} s to start"

        end = datetime.now(UTC)
        query = urllib.parse.urlencode(
            {
                "start_time": _iso(end - timedelta(days=30)),
                "end_time": _iso(end),
                "period": "day",
            }
        )
        overview = stack.companion_api("GET", f"/api/energy/overview?{query}")
        totals = overview["totals"]
        for name in ENERGY_TOTALS:
            assert totals[name] > 0, (name, totals)
        assert totals["gas"]["value"] > 0, totals
        assert totals["gas"]["unit"] == "m³"
        assert totals["water"]["value"] > 0, totals
        assert totals["water"]["unit"] == "m³"
        for device in DEVICES:
            assert totals["devices"][device.entity_id] > 0, (device, totals)
        # The fridge is on the kitchen's circuit: the kitchen's figure holds it.
        devices = totals["devices"]
        assert devices["sensor.kitchen_energy"] > devices["sensor.fridge_energy"]
        assert len(overview["buckets"]) >= 30
        assert totals["cost"] > 0 and totals["compensation"] > 0

        # "Sync from HA" on a meter of the home: HA's statistics of its last 7 days.
        result = stack.companion_job(
            "/api/statistics/sync",
            {
                "entity_ids": [GRID_IMPORT.entity_id],
                "start_time": _iso(end - timedelta(days=7)),
                "end_time": _iso(end),
            },
        )
        assert result["rows"] >= 7 * 24 - 1, result

        # The meters keep reading, on from the imported month.
        feed = stack.demo_home
        assert feed is not None and feed.imported_until is not None
        last_imported = feed.home.reading(SOLAR, feed.imported_until)
        deadline = time.monotonic() + 90
        readings = _readings(stack, SOLAR.entity_id)
        while len(readings) < 3 and time.monotonic() < deadline:
            time.sleep(2)
            readings = _readings(stack, SOLAR.entity_id)
        assert len(readings) >= 3, readings
        assert all(r["value"] >= last_imported - 0.001 for r in readings), (
            last_imported,
            readings,
        )
    finally:
        stack.stop()
