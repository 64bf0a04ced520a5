"""The integration's HA-free core, loaded as the package `energy_tracker_core`.

HACS installs the integration's folder alone, so the core lives in it
(`custom_components/energy_tracker/core/`). Importing it as
`custom_components.energy_tracker.core` would run the integration's `__init__`, which
imports Home Assistant, so the companion loads that folder as a package of its own
name: its modules import each other relatively, as in the integration.
`ENERGY_TRACKER_CORE_DIR` points at the folder where the layout differs (the image).
"""

from __future__ import annotations

import importlib
import importlib.util
import os
from pathlib import Path
import sys
from types import ModuleType
from typing import TYPE_CHECKING, Final

PACKAGE: Final = "energy_tracker_core"
_DEFAULT_DIR: Final = (
    Path(__file__).resolve().parent.parent
    / "custom_components"
    / "energy_tracker"
    / "core"
)


def load_core() -> ModuleType:
    """Import the core package from its folder once; later calls return it."""
    if (package := sys.modules.get(PACKAGE)) is not None:
        return package
    folder = Path(os.environ.get("ENERGY_TRACKER_CORE_DIR", _DEFAULT_DIR))
    spec = importlib.util.spec_from_file_location(
        PACKAGE, folder / "__init__.py", submodule_search_locations=[str(folder)]
    )
    if spec is None or spec.loader is None:
        raise ImportError(f"no Energy Tracker core package in {folder}")
    package = importlib.util.module_from_spec(spec)
    sys.modules[PACKAGE] = package
    try:
        spec.loader.exec_module(package)
    except BaseException:
        del sys.modules[PACKAGE]
        raise
    return package


def _module(name: str) -> ModuleType:
    load_core()
    return importlib.import_module(f"{PACKAGE}.{name}")


if TYPE_CHECKING:
    from custom_components.energy_tracker.core import (
        documents,
        energy_setup,
        entities,
        ilp,
        questdb_http,
        schema,
        units,
    )
else:
    ilp = _module("ilp")
    questdb_http = _module("questdb_http")
    schema = _module("schema")
    units = _module("units")
    documents = _module("documents")
    entities = _module("entities")
    energy_setup = _module("energy_setup")

__all__ = ["PACKAGE", "ilp", "load_core", "questdb_http", "schema", "units"]
__all__ += ["documents", "energy_setup", "entities"]
