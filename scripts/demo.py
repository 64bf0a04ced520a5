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
import sys
import time
from types import FrameType

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tools.stack import Stack, StackPorts  # noqa: E402

RUN = Path(os.environ.get("ENERGY_TRACKER_RUN", REPO / ".run"))

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


class _StopRequestedError(Exception):
    """Raised from the signal handler to unwind and stop everything."""


def _raise_stop(signum: int, frame: FrameType | None) -> None:
    raise _StopRequestedError


def main() -> int:
    """Start everything, print the URLs, and stop it all on Ctrl-C."""
    signal.signal(signal.SIGINT, _raise_stop)
    signal.signal(signal.SIGTERM, _raise_stop)
    ports = StackPorts.from_env()
    stack = Stack(run_dir=RUN / "demo", ports=ports, ha_extra_config=DEMO_CONFIG)
    try:
        stack.services("start")
        print(f"[demo] starting Home Assistant on {stack.hass.url} …", flush=True)
        stack.start_home_assistant()
        entry_id = stack.add_integration()
        print(
            f"[demo] Energy Tracker set up through HA's config flow (entry {entry_id})",
            flush=True,
        )
        # The Configure dialog's sidebar option: the dashboard as HA's "Energy" panel.
        stack.set_integration_options(entry_id, dashboard_url=f"{stack.companion_url}/")
        status = stack.start_companion()
        print(
            "\n".join(
                [
                    "",
                    "Energy Tracker demo is running:",
                    f"  Home Assistant  {stack.hass.url}   (user 'owner'; token in {stack.hass.config_dir}/.energy_tracker_token)",
                    f"  Dashboard       {stack.companion_url}/   (also HA's sidebar: Energy, {stack.hass.url}/energy-tracker)",
                    f"  API status      {stack.companion_url}/api/status -> {json.dumps(status.get('databases'))}",
                    f"  QuestDB         {stack.questdb_url}",
                    f"  MongoDB         {stack.mongodb_uri}",
                    f"  Logs            {stack.run_dir / 'logs'} and {stack.hass.config_dir / 'home-assistant.log'}",
                    "Press Ctrl-C to stop everything.",
                ]
            ),
            flush=True,
        )
        while True:
            if stack.companion is None or stack.companion.poll() is not None:
                print("[demo] the companion exited; stopping", file=sys.stderr)
                return 1
            if not stack.hass.running:
                print("[demo] Home Assistant exited; stopping", file=sys.stderr)
                return 1
            time.sleep(1)
    except _StopRequestedError:
        print("\n[demo] stopping …", flush=True)
        return 0
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        stack.stop()
        print("[demo] everything stopped", flush=True)


if __name__ == "__main__":
    sys.exit(main())
