"""`make demo`: QuestDB, MongoDB, a real Home Assistant and the companion, on loopback.

Home Assistant runs from the installed `homeassistant` package on a configuration
folder this script writes (.run/demo/homeassistant), with HA's `demo` integration
for energy and power sensors and this repository's integration linked into its
`custom_components/`. The companion gets a long-lived token created without any
clicking. Ctrl-C (or SIGTERM) stops every process this script started.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
import signal
import subprocess
import sys
import time
from types import FrameType
import urllib.error
import urllib.request

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tools.hass_runner import HomeAssistantProcess  # noqa: E402

RUN = Path(os.environ.get("ENERGY_TRACKER_RUN", REPO / ".run"))
HA_PORT = int(os.environ.get("HA_PORT", "8123"))
COMPANION_PORT = int(os.environ.get("COMPANION_PORT", "8099"))
QUESTDB_HTTP_PORT = int(os.environ.get("QUESTDB_HTTP_PORT", "9000"))
MONGODB_PORT = int(os.environ.get("MONGODB_PORT", "27017"))

# HA's demo integration brings energy, power and gas sensors (and demo statistics);
# the template sensors below change every few seconds so live data shows at once.
DEMO_CONFIG = """\
frontend:
demo:
template:
  - trigger:
      - trigger: time_pattern
        seconds: "/5"
    sensor:
      - name: "Demo house power"
        unique_id: energy_tracker_demo_house_power
        unit_of_measurement: W
        device_class: power
        state_class: measurement
        state: "{{ (900 + 600 * sin(now().timestamp() / 600) + range(0, 200) | random) | round(1) }}"
      - name: "Demo house energy"
        unique_id: energy_tracker_demo_house_energy
        unit_of_measurement: kWh
        device_class: energy
        state_class: total_increasing
        state: "{{ ((this.state | float(0)) + 0.0001 * (range(10, 20) | random)) | round(4) }}"
      - name: "Demo solar power"
        unique_id: energy_tracker_demo_solar_power
        unit_of_measurement: kW
        device_class: power
        state_class: measurement
        state: "{{ [0, 2.5 * sin(now().timestamp() / 1800)] | max | round(3) }}"
"""


def _services(command: str) -> None:
    subprocess.run([str(REPO / "scripts" / "services"), command], check=True)


def _link_integration(config_dir: Path) -> None:
    """Install the integration into HA's custom_components as a link to the working tree."""
    target = config_dir / "custom_components" / "energy_tracker"
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.is_symlink() or target.exists():
        if (
            target.resolve()
            == (REPO / "custom_components" / "energy_tracker").resolve()
        ):
            return
        target.unlink()
    target.symlink_to(
        REPO / "custom_components" / "energy_tracker", target_is_directory=True
    )


def _wait_for_companion(url: str, timeout: float = 60) -> dict[str, object]:
    deadline = time.monotonic() + timeout
    last_error = ""
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=3) as response:  # noqa: S310 - loopback
                status: dict[str, object] = json.load(response)
                return status
        except (urllib.error.URLError, OSError, ValueError) as err:
            last_error = str(err)
            time.sleep(0.5)
    raise RuntimeError(f"the companion did not answer at {url}: {last_error}")


class _StopRequestedError(Exception):
    """Raised from the signal handler to unwind and stop everything."""


def _raise_stop(signum: int, frame: FrameType | None) -> None:
    raise _StopRequestedError


def main() -> int:
    """Start everything, print the URLs, and stop it all on Ctrl-C."""
    signal.signal(signal.SIGINT, _raise_stop)
    signal.signal(signal.SIGTERM, _raise_stop)
    config_dir = RUN / "demo" / "homeassistant"
    hass = HomeAssistantProcess(
        config_dir=config_dir, port=HA_PORT, extra_config=DEMO_CONFIG
    )
    companion: subprocess.Popen[bytes] | None = None
    try:
        _services("start")
        _link_integration(config_dir)
        print(
            f"[demo] starting Home Assistant on http://127.0.0.1:{HA_PORT} …",
            flush=True,
        )
        token = hass.start()
        env = {
            **os.environ,
            "COMPANION_PORT": str(COMPANION_PORT),
            "ENERGY_TRACKER_HA_URL": hass.url,
            "ENERGY_TRACKER_HA_TOKEN": token,
        }
        log = (RUN / "logs" / "companion-demo.log").open("ab")
        companion = subprocess.Popen(
            [sys.executable, "-m", "companion"],
            cwd=REPO,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        status = _wait_for_companion(f"http://127.0.0.1:{COMPANION_PORT}/api/status")
        print(
            "\n".join(
                [
                    "",
                    "Energy Tracker demo is running:",
                    f"  Home Assistant  http://127.0.0.1:{HA_PORT}   (user 'owner'; token in {config_dir}/.energy_tracker_token)",
                    f"  Dashboard       http://127.0.0.1:{COMPANION_PORT}/",
                    f"  API status      http://127.0.0.1:{COMPANION_PORT}/api/status -> {json.dumps(status.get('databases'))}",
                    f"  QuestDB         http://127.0.0.1:{QUESTDB_HTTP_PORT}",
                    f"  MongoDB         mongodb://127.0.0.1:{MONGODB_PORT}/",
                    f"  Logs            {RUN / 'logs'}",
                    "Press Ctrl-C to stop everything.",
                ]
            ),
            flush=True,
        )
        while True:
            if companion.poll() is not None:
                print("[demo] the companion exited; stopping", file=sys.stderr)
                return 1
            if not hass.running:
                print("[demo] Home Assistant exited; stopping", file=sys.stderr)
                return 1
            time.sleep(1)
    except _StopRequestedError:
        print("\n[demo] stopping …", flush=True)
        return 0
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        if companion is not None and companion.poll() is None:
            companion.terminate()
            try:
                companion.wait(timeout=15)
            except subprocess.TimeoutExpired:
                companion.kill()
        hass.stop()
        _services("stop")
        print("[demo] everything stopped", flush=True)


if __name__ == "__main__":
    sys.exit(main())
