"""`make demo`: QuestDB, MongoDB, a real Home Assistant and the companion, on loopback.

Home Assistant runs from the installed `homeassistant` package on a configuration
folder this script writes (.run/demo/homeassistant), with this repository's
integration linked into its `custom_components/`. It holds the demo home of
`tools/demo_home.py`: grid import and export, solar, a battery, gas, water and three
devices, as sensors that read anew every few seconds, with a month of hourly
statistics imported and HA's Energy settings naming them all. The companion gets a
long-lived token created without any clicking, copies those statistics at once, and
its overview shows the whole home from the first minute. Ctrl-C (or SIGTERM) stops
every process this script started.
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

from tools.stack import StackPorts, demo_stack  # noqa: E402

RUN = Path(os.environ.get("ENERGY_TRACKER_RUN", REPO / ".run"))


class _StopRequestedError(Exception):
    """Raised from the signal handler to unwind and stop everything."""


def _raise_stop(signum: int, frame: FrameType | None) -> None:
    raise _StopRequestedError


def main() -> int:
    """Start everything, print the URLs, and stop it all on Ctrl-C."""
    signal.signal(signal.SIGINT, _raise_stop)
    signal.signal(signal.SIGTERM, _raise_stop)
    stack = demo_stack(RUN / "demo", StackPorts.from_env())
    try:
        started = time.monotonic()
        print(
            f"[demo] starting the servers, Home Assistant on {stack.hass.url} and "
            "the companion, with the demo home …",
            flush=True,
        )
        status = stack.start_demo()
        print(
            f"[demo] the demo home is in Home Assistant and the companion "
            f"({time.monotonic() - started:.0f} s)",
            flush=True,
        )
        if stack.demo_home is not None and stack.demo_home.overview_problem:
            print(
                f"[demo] the overview is not complete: {stack.demo_home.overview_problem}",
                file=sys.stderr,
                flush=True,
            )
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
