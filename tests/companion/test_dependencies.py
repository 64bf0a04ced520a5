"""The companion's dependencies resolve alike wherever it runs.

The dev venv is installed under Home Assistant's package_constraints.txt
(scripts/bootstrap); the Docker image must be too, or its aiohttp (and aiodns /
pycares, should they ever come in) could be other versions than the ones tested.
Docker cannot build here, so the image's install is resolved with `uv pip compile`
for its Python and platforms, under the constraints its Dockerfile fetches, and
compared with what the dev venv has. An aiodns that does not fit its pycares (aiodns
3.2 with pycares 5 raised TypeError in getaddrinfo) is caught too.
"""

from __future__ import annotations

from importlib import metadata
from pathlib import Path
import re
import subprocess
import sys
import tomllib

import aiohttp
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
import pytest

from companion import net
from tools.ha_constraints import constraints_file

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
UV = Path(sys.executable).with_name("uv")
# The image's base (python:3.13-slim-bookworm): Debian, glibc, amd64 and arm64.
IMAGE_PYTHON = "3.13"
IMAGE_PLATFORMS = ("x86_64-unknown-linux-gnu", "aarch64-unknown-linux-gnu")
# What decides how the companion reaches Home Assistant and resolves its name.
NETWORK_STACK = ("aiohttp", "aiodns", "pycares")


def _ha_version() -> str:
    for line in PYPROJECT["dependency-groups"]["dev"]:
        requirement = Requirement(line)
        if requirement.name == "homeassistant":
            (spec,) = requirement.specifier
            return spec.version
    raise AssertionError("no homeassistant== pin in the dev group")


def _installed(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def _compile(requirements: list[str], platform: str) -> dict[str, str]:
    """What `uv pip install -c <HA constraints>` would install, name -> version."""
    result = subprocess.run(
        [
            str(UV),
            "pip",
            "compile",
            "--quiet",
            "--no-header",
            "--no-annotate",
            f"--python-version={IMAGE_PYTHON}",
            f"--python-platform={platform}",
            "--constraint",
            str(constraints_file(_ha_version())),
            "-",
        ],
        input="\n".join(requirements),
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    pins: dict[str, str] = {}
    for line in result.stdout.splitlines():
        name, _, version = line.strip().partition("==")
        if version:
            pins[canonicalize_name(name.split("[")[0])] = version.split(";")[0].strip()
    return pins


def test_dockerfile_installs_under_home_assistants_constraints() -> None:
    text = DOCKERFILE.read_text()
    # The constraints of the HA version pinned in pyproject, fetched as bootstrap does.
    assert 'python -m tools.ha_constraints "$ha_version"' in text
    assert '"homeassistant==' in text  # the sed reading pyproject's pin
    installs = [
        line for line in text.splitlines() if re.search(r"\bpip install\b", line)
    ]
    assert installs, "the Dockerfile installs nothing?"
    for line in installs:
        assert "-c /tmp/ha-constraints.txt" in line, f"unconstrained: {line.strip()}"
    assert any(
        re.search(r"uv pip install --system .*-c \S+ \.(\s|$)", line)
        for line in installs
    )


@pytest.mark.parametrize("platform", IMAGE_PLATFORMS)
def test_image_resolves_the_network_stack_like_the_dev_venv(platform: str) -> None:
    image = _compile(list(PYPROJECT["project"]["dependencies"]), platform)
    assert "aiohttp" in image
    for name in NETWORK_STACK:
        if name in image:
            assert image[name] == _installed(name), (
                f"{name}: the image would get {image[name]}, the dev venv has "
                f"{_installed(name)}"
            )
    # Should aiodns ever come into the image (a dependency of a dependency), it is
    # Home Assistant's version, with a pycares that fits it.
    with_aiodns = _compile([*PYPROJECT["project"]["dependencies"], "aiodns"], platform)
    assert with_aiodns["aiodns"] == _installed("aiodns")
    assert with_aiodns["aiohttp"] == _installed("aiohttp")
    _assert_pair(with_aiodns["aiodns"], with_aiodns["pycares"])


def _assert_pair(aiodns_version: str, pycares_version: str) -> None:
    """aiodns states which pycares it works with; 4.x is the first for pycares 5."""
    requirement = next(
        Requirement(line)
        for line in metadata.requires("aiodns") or []
        if Requirement(line).name == "pycares"
    )
    assert _installed("aiodns") == aiodns_version, "compare with the installed aiodns"
    assert requirement.specifier.contains(pycares_version), (
        f"aiodns {aiodns_version} wants pycares{requirement.specifier}, "
        f"got {pycares_version}"
    )
    if int(pycares_version.split(".", maxsplit=1)[0]) >= 5:
        assert int(aiodns_version.split(".", maxsplit=1)[0]) >= 4, (
            f"aiodns {aiodns_version} predates pycares 5 ({pycares_version})"
        )


async def test_dev_venv_aiodns_and_pycares_work_together() -> None:
    aiodns_version, pycares_version = _installed("aiodns"), _installed("pycares")
    assert aiodns_version and pycares_version
    _assert_pair(aiodns_version, pycares_version)
    import aiodns

    # The call that raised TypeError with aiodns 3.2 + pycares 5 (answered from
    # /etc/hosts: no DNS server is asked).
    answer = await aiodns.DNSResolver().getaddrinfo("localhost", port=8123)
    assert answer.nodes


async def test_companion_resolves_with_the_system_everywhere() -> None:
    """aiohttp would pick aiodns where installed (dev) and not elsewhere (image)."""
    assert aiohttp.resolver.DefaultResolver is aiohttp.AsyncResolver  # aiodns here
    connector = net.connector()
    try:
        assert isinstance(connector._resolver, aiohttp.ThreadedResolver)
    finally:
        await connector.close()
