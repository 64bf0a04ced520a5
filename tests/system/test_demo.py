"""`make demo` brings everything up and Ctrl-C takes everything down."""

from __future__ import annotations

import json
import os
from pathlib import Path
import signal
import subprocess
import sys
import time
from typing import Any
import urllib.error
import urllib.request

import pytest

from tests.ha import deprecation_report
from tests.servers import REPO
from tools.hass_runner import HomeAssistantProcess

# Ports of their own, so the demo's `services stop` never touches the suite's servers.
PORTS = {
    "QUESTDB_HTTP_PORT": "9400",
    "QUESTDB_PG_PORT": "9212",
    "MONGODB_PORT": "27417",
    "HA_PORT": "8423",
    "COMPANION_PORT": "8499",
}


def _get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - loopback
            return response.status, response.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


def _ha_websocket(port: str, token: str, command: dict[str, Any]) -> Any:
    runner = HomeAssistantProcess(
        config_dir=Path("/nonexistent"), port=int(port), token=token
    )
    return runner.websocket_command(command)


def _pids_listening(port: str) -> str:
    return subprocess.run(
        ["ss", "-Hltnp", f"sport = :{port}"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()


@pytest.mark.system
def test_make_demo_starts_everything_and_ctrl_c_stops_it(
    tmp_path: Path, socket_enabled: None
) -> None:
    """HA's front page, the companion's status with both databases up, then a clean stop."""
    env = {**os.environ, **PORTS, "ENERGY_TRACKER_RUN": str(tmp_path / "run")}
    demo = subprocess.Popen(
        [sys.executable, str(REPO / "scripts" / "demo.py")],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    output: list[str] = []
    try:
        assert demo.stdout is not None
        deadline = time.monotonic() + 240
        for line in demo.stdout:
            output.append(line)
            if "Press Ctrl-C" in line or time.monotonic() > deadline:
                break
        assert any("Press Ctrl-C" in line for line in output), "".join(output)

        status, body = _get(f"http://127.0.0.1:{PORTS['HA_PORT']}/")
        assert status == 200, body[:200]
        assert b"<html" in body.lower()
        status, body = _get(f"http://127.0.0.1:{PORTS['COMPANION_PORT']}/api/status")
        assert status == 200
        databases = json.loads(body)["databases"]
        assert databases == {"questdb": "connected", "mongodb": "connected"}

        # HA's sidebar shows the Energy panel: the dashboard in an iframe.
        token = (
            tmp_path / "run" / "demo" / "homeassistant" / ".energy_tracker_token"
        ).read_text()
        panels = _ha_websocket(PORTS["HA_PORT"], token, {"type": "get_panels"})
        assert panels["energy-tracker"]["title"] == "Energy"
        assert (
            panels["energy-tracker"]["config"]["url"]
            == f"http://127.0.0.1:{PORTS['COMPANION_PORT']}/"
        )

        # Live data: the demo's sensors change every 5 s and reach QuestDB through the
        # integration (set up through HA's config flow), and the companion serves them.
        readings: list[object] = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and len(readings) < 2:
            time.sleep(2)
            status, body = _get(
                f"http://127.0.0.1:{PORTS['COMPANION_PORT']}/api/readings/sensor.demo_house_power"
            )
            if status == 200:
                answer = json.loads(body)
                readings = answer["readings"] if isinstance(answer, dict) else answer
        assert len(readings) >= 2, (
            f"no live readings of the demo sensor: {status} {body[:300]!r}"
        )
    finally:
        demo.send_signal(signal.SIGINT)
        rest, _ = demo.communicate(timeout=120)
        output.append(rest)
    assert demo.returncode == 0, "".join(output)
    assert "everything stopped" in "".join(output)
    # HA reports use of deprecated or removed API by the integration in its log.
    ha_log = tmp_path / "run" / "demo" / "homeassistant" / "home-assistant.log"
    reports = [
        line for line in ha_log.read_text().splitlines() if deprecation_report(line)
    ]
    assert not reports, "\n".join(reports)
    for name, port in PORTS.items():
        assert _pids_listening(port) == "", (
            f"{name} {port} still has a listener after Ctrl-C"
        )
