"""The schema and unit rules the companion shares with the integration.

They are defined once, in `custom_components/energy_tracker/`, as modules that import
nothing from Home Assistant. Importing them as `custom_components.energy_tracker.x`
would run the integration's `__init__` (and import Home Assistant), so they are loaded
from their files. `ENERGY_TRACKER_SHARED_DIR` points elsewhere when the layout differs.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
import sys
from types import ModuleType
from typing import TYPE_CHECKING

_DEFAULT_DIR = (
    Path(__file__).resolve().parent.parent / "custom_components" / "energy_tracker"
)


def _load(name: str) -> ModuleType:
    """Load one shared module from the integration's folder."""
    qualified = f"energy_tracker_shared_{name}"
    if (module := sys.modules.get(qualified)) is not None:
        return module
    folder = Path(os.environ.get("ENERGY_TRACKER_SHARED_DIR", _DEFAULT_DIR))
    spec = importlib.util.spec_from_file_location(qualified, folder / f"{name}.py")
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {name}.py from {folder}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[qualified] = module
    spec.loader.exec_module(module)
    return module


if TYPE_CHECKING:
    from custom_components.energy_tracker import schema, units
else:
    schema = _load("schema")
    units = _load("units")

__all__ = ["schema", "units"]
