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
    modules = sorted(path.stem for path in CORE_DIR.glob("*.py") if path.stem != "__init__")
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
