"""The texts shown to users agree with the code: statuses, icons, examples, reauth.

hassfest's rules for strings.json, en.json and icons.json: tests/test_hassfest.py.
"""

from __future__ import annotations

import json
from pathlib import Path
import re
from typing import Any

from homeassistant.const import STATE_UNAVAILABLE, STATE_UNKNOWN

from companion.config import CompanionConfig
from custom_components.energy_tracker.sensor import SENSORS

PACKAGE = Path(__file__).resolve().parents[2] / "custom_components" / "energy_tracker"


def _load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((PACKAGE / name).read_text(encoding="utf-8"))
    return data


def test_status_states_are_not_reserved_and_are_translated() -> None:
    strings = _load("strings.json")["entity"]["sensor"]
    icons = _load("icons.json")["entity"]["sensor"]
    enums = [d for d in SENSORS if d.options is not None]
    assert {d.key for d in enums} == {"questdb_status", "mongodb_status"}
    for description in enums:
        options = list(description.options or [])
        # HA's own states: a sensor reporting one of them looks broken.
        assert not {STATE_UNAVAILABLE, STATE_UNKNOWN} & set(options)
        assert "disconnected" in options
        key = description.translation_key
        assert key is not None
        assert set(strings[key]["state"]) == set(options)
        assert set(icons[key].get("state", {})) <= set(options)


def test_dashboard_examples_use_the_companion_port() -> None:
    options = json.dumps(_load("strings.json")["options"])
    ports = {int(port) for port in re.findall(r"http://[\w.]+:(\d+)/", options)}
    assert ports == {CompanionConfig().port}


def test_reauth_description_does_not_promise_the_spool() -> None:
    description = _load("strings.json")["config"]["step"]["reauth_confirm"][
        "description"
    ]
    # Rejected at start-up, the entry does not load and nothing is spooled.
    assert "meanwhile" not in description
    assert "start-up" in description
    assert "not loaded" in description
