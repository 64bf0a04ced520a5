"""What ships to users: manifest, hacs.json, docker-compose.yml, Dockerfile."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from typing import Any

from awesomeversion import AwesomeVersion
import yaml

from .servers import REPO

INTEGRATION = REPO / "custom_components" / "energy_tracker"
QUESTDB_VERSION = re.search(
    r"^QUESTDB_VERSION=(\S+)$",
    (REPO / "scripts" / "services").read_text(),
    re.MULTILINE,
)


def _compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    return data


def test_manifest_describes_this_integration() -> None:
    """What the manifest says of Energy Tracker; hassfest's rules: test_hassfest.py."""
    manifest = json.loads((INTEGRATION / "manifest.json").read_text())
    assert manifest["domain"] == "energy_tracker"
    assert manifest["iot_class"] == "local_push"
    assert manifest["config_flow"] is True
    # HACS shows issues there and needs codeowners.
    assert manifest["issue_tracker"]
    assert manifest["codeowners"]
    requirements = {re.split(r"[=<>~!]", req)[0] for req in manifest["requirements"]}
    assert {"questdb", "pymongo"} <= requirements


def test_hacs_json_names_minimum_home_assistant() -> None:
    """hacs.json names the integration and the oldest Home Assistant it runs on."""
    hacs = json.loads((REPO / "hacs.json").read_text())
    assert hacs["name"] == "Energy Tracker"
    assert AwesomeVersion(hacs["homeassistant"]) >= AwesomeVersion("2026.2.0")


def test_docker_compose_is_valid_for_compose() -> None:
    """docker-compose validates the file against the Compose schema (no engine needed)."""
    compose = shutil.which("docker-compose")
    assert compose, (
        "docker-compose is missing: scripts/bootstrap installs Debian's package"
    )
    result = subprocess.run(
        [compose, "-f", str(REPO / "docker-compose.yml"), "config", "-q"],
        capture_output=True,
        text=True,
        check=False,
        cwd=REPO,
    )
    assert result.returncode == 0, result.stderr


def test_docker_compose_services_images_and_volumes() -> None:
    """Four services, the pinned images, named volumes, health checks, loopback ports."""
    compose = _compose()
    services = compose["services"]
    assert set(services) == {"homeassistant", "questdb", "mongo", "companion"}
    assert services["homeassistant"]["image"].startswith(
        "ghcr.io/home-assistant/home-assistant:"
    )
    assert QUESTDB_VERSION is not None
    assert services["questdb"]["image"] == f"questdb/questdb:{QUESTDB_VERSION.group(1)}"
    assert re.fullmatch(r"mongo:8(\.\d+)*", services["mongo"]["image"])
    assert services["companion"]["build"] == "."
    assert (REPO / "Dockerfile").is_file()
    assert set(compose["volumes"]) == {
        "homeassistant-config",
        "questdb-data",
        "mongo-data",
    }
    assert (
        "./custom_components/energy_tracker:/config/custom_components/energy_tracker:ro"
        in (services["homeassistant"]["volumes"])
    )
    for name, service in services.items():
        assert "test" in service["healthcheck"], name
        for port in service.get("ports", []):
            assert port.startswith("127.0.0.1:"), (
                f"{name} publishes {port} beyond loopback"
            )


def test_docker_compose_companion_environment() -> None:
    """The companion is pointed at the compose services by name."""
    companion = _compose()["services"]["companion"]
    env = companion["environment"]
    assert env["ENERGY_TRACKER_QUESTDB_URL"] == "http://questdb:9000"
    assert env["ENERGY_TRACKER_QUESTDB_PG_HOST"] == "questdb"
    assert env["ENERGY_TRACKER_MONGODB_URI"] == "mongodb://mongo:27017/"
    assert env["ENERGY_TRACKER_HA_URL"] == "http://homeassistant:8123"
    assert env["ENERGY_TRACKER_HOST"] == "0.0.0.0"  # noqa: S104 - inside its container
    assert {"questdb", "mongo"} <= set(companion["depends_on"])


def test_nothing_downloaded_is_tracked() -> None:
    """Jars, binaries, virtual environments and data never enter git."""
    tracked = subprocess.run(
        ["git", "ls-files"], capture_output=True, text=True, check=True, cwd=REPO
    ).stdout.splitlines()
    offenders = [
        path
        for path in tracked
        if path.endswith((".jar", ".so", ".db"))
        or path.startswith(
            (".cache/", ".run/", ".venv/", "node_modules/", "companion/static/vendor/")
        )
    ]
    assert offenders == []
