"""The integration's requirements install on every Home Assistant it supports.

HA installs a custom integration's requirements under its own
`package_constraints.txt`; a requirement that conflicts with it makes the
integration impossible to install. These tests resolve the manifest's requirements
against the constraints of the oldest supported HA, the one the suite runs on, and
the newest checked, for HA's Python on Linux x86_64 and aarch64, glibc and musl
(HA OS and the official container are Alpine, i.e. musl), without installing.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
import subprocess
import sys
import zipfile

from awesomeversion import AwesomeVersion
from packaging.requirements import Requirement
import pytest

from tools.ha_constraints import constraints_file, pip_download

ROOT = Path(__file__).resolve().parent.parent
MANIFEST = ROOT / "custom_components" / "energy_tracker" / "manifest.json"
HACS = ROOT / "hacs.json"
# The minimum (hacs.json), the version the suite runs on, the newest checked.
HA_VERSIONS = ("2026.2.0", "2026.2.3", "2026.11.0")
PLATFORMS = (
    "x86_64-unknown-linux-gnu",
    "aarch64-unknown-linux-gnu",
    "x86_64-unknown-linux-musl",
    "aarch64-unknown-linux-musl",
)
# HA >= 2026.3 runs on Python 3.14; 2026.2 on 3.13 and 3.14.
PYTHON = "3.14.2"
# Requirements allowed to install from their source distribution: PyMongo publishes
# no musllinux wheel; its C speed-ups are optional and it builds without a compiler
# (test_pymongo_builds_without_a_compiler). Everything else must come as a wheel,
# because HA's container has no toolchain to build one.
FROM_SOURCE = frozenset({"pymongo"})
UV = Path(sys.executable).with_name("uv")


def _requirements() -> list[str]:
    return list(json.loads(MANIFEST.read_text())["requirements"])


def _resolve(requirements: list[str], constraints: Path, platform: str) -> str | None:
    """Return None when the requirements resolve, else uv's explanation."""
    command = [
        str(UV),
        "pip",
        "compile",
        "--quiet",
        "--no-header",
        f"--python-version={PYTHON}",
        f"--python-platform={platform}",
        "--only-binary=:all:",
        *(f"--no-binary={name}" for name in sorted(FROM_SOURCE)),
        "--constraint",
        str(constraints),
        "-",
    ]
    result = subprocess.run(
        command,
        input="\n".join(requirements),
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    return None if result.returncode == 0 else result.stderr.strip()


def test_hacs_minimum_is_the_oldest_version_checked() -> None:
    hacs = json.loads(HACS.read_text())
    assert AwesomeVersion(hacs["homeassistant"]) == AwesomeVersion(HA_VERSIONS[0])


def test_requirements_are_not_pinned_exactly() -> None:
    """HA's constraints choose the version; an exact pin is a conflict waiting to happen."""
    for line in _requirements():
        requirement = Requirement(line)
        assert requirement.specifier, f"{line}: give a lower bound"
        assert all(
            spec.operator not in {"==", "==="} for spec in requirement.specifier
        ), f"{line}: pin loosely (>=, <) so Home Assistant's constraints choose"


@pytest.mark.parametrize("platform", PLATFORMS)
@pytest.mark.parametrize("ha_version", HA_VERSIONS)
def test_requirements_resolve_under_home_assistant_constraints(
    ha_version: str, platform: str
) -> None:
    constraints = constraints_file(ha_version)
    requirements = _requirements()
    failure = _resolve(requirements, constraints, platform)
    if failure is None:
        return
    # Name the requirement that conflicts: each one resolved on its own.
    conflicting = [
        line for line in requirements if _resolve([line], constraints, platform)
    ]
    pytest.fail(
        f"Home Assistant {ha_version} on {platform} (Python {PYTHON}) cannot install "
        f"{', '.join(conflicting) or 'the requirements together'}:\n{failure}"
    )


def test_pymongo_builds_without_a_compiler(tmp_path: Path) -> None:
    """On musl PyMongo comes from its sdist; with no C compiler it must still build."""
    pymongo = next(Requirement(r) for r in _requirements() if r.startswith("pymongo"))
    pip_download(str(pymongo), tmp_path, "--no-binary=:all:")
    sdist = next(tmp_path.glob("pymongo-*.tar.gz"))
    subprocess.run(
        [
            str(UV),
            "build",
            "--quiet",
            "--wheel",
            f"--python={sys.executable}",
            "--out-dir",
            str(tmp_path / "wheel"),
            str(sdist),
        ],
        check=True,
        timeout=600,
        env={**os.environ, "CC": "/bin/false", "CXX": "/bin/false"},
    )
    wheel = next((tmp_path / "wheel").glob("pymongo-*.whl"))
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
    assert "pymongo/asynchronous/mongo_client.py" in names
    assert not [name for name in names if name.endswith(".so")]
