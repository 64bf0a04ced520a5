"""The HA-free core: one package, loaded by the companion as a package, importing no HA."""

from __future__ import annotations

import os
from pathlib import Path
import subprocess
import sys

from companion.core import PACKAGE, load_core
from custom_components.energy_tracker import core

CORE_DIR = Path(core.__file__).parent


def test_companion_loads_the_integrations_folder_as_a_package() -> None:
    """Every module of the companion's core is a file of the integration's `core/`."""
    package = load_core()
    assert package.__name__ == PACKAGE
    assert Path(package.__file__ or "").parent == CORE_DIR
    assert list(package.__path__) == [str(CORE_DIR)]


def test_core_imports_no_home_assistant() -> None:
    """Importing every core module, as the companion does, loads no `homeassistant`."""
    modules = sorted(
        path.stem for path in CORE_DIR.glob("*.py") if path.stem != "__init__"
    )
    assert modules, "the core has modules"
    code = (
        "import importlib, sys\n"
        "from companion.core import PACKAGE, load_core\n"
        "load_core()\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(f'{PACKAGE}.{name}')\n"
        "leaked = sorted(m for m in sys.modules if m.split('.')[0] in "
        "('homeassistant', 'custom_components'))\n"
        "print(','.join(leaked))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=CORE_DIR.parent.parent.parent,
        env={**os.environ, "PYTHONPATH": str(CORE_DIR.parent.parent.parent)},
        timeout=60,
    )
    assert result.stdout.strip() == ""


# One rule says what an energy entity is: the integration tracks these by default
# and the companion's discovery lists them, so both must answer alike.
ENERGY_ENTITY_CASES = [
    ("sensor.grid", {"device_class": "energy", "unit_of_measurement": "kWh"}, True),
    ("sensor.house", {"device_class": "power", "unit_of_measurement": "kW"}, True),
    ("sensor.gas", {"device_class": "gas", "unit_of_measurement": "m³"}, True),
    ("sensor.tap", {"device_class": "water", "unit_of_measurement": "L"}, True),
    ("sensor.odd", {"device_class": "energy", "unit_of_measurement": "kBTU"}, True),
    ("sensor.plug", {"unit_of_measurement": "kWh"}, False),
    ("sensor.tank", {"unit_of_measurement": "L"}, False),
    ("sensor.rain", {"device_class": "volume", "unit_of_measurement": "L"}, False),
    (
        "sensor.outside",
        {"device_class": "temperature", "unit_of_measurement": "°C"},
        False,
    ),
    (
        "sensor.price",
        {"device_class": "monetary", "unit_of_measurement": "EUR/kWh"},
        False,
    ),
    (
        "number.charge_limit",
        {"device_class": "energy", "unit_of_measurement": "kWh"},
        False,
    ),
    ("input_number.budget", {"unit_of_measurement": "kWh"}, False),
    ("sensor.bare", {}, False),
]


def test_integration_and_companion_agree_on_energy_entities() -> None:
    """What the integration tracks by default is what the companion discovers."""
    from homeassistant.core import State

    from companion.core import entities
    from custom_components.energy_tracker.tracking import TrackingRules

    rules = TrackingRules({})
    for entity_id, attributes, expected in ENERGY_ENTITY_CASES:
        state = State(entity_id, "1", attributes)
        assert entities.is_energy_entity(entity_id, attributes) is expected, entity_id
        assert rules.decide(entity_id, state) is expected, entity_id
