"""Stops every process of a stack when the process that started it dies.

`tools.stack.Stack` starts this module as a child in a session of its own and keeps
the write end of its stdin. The owner tells it which process groups to stop
(`group <pgid>` / `forget <pgid>` lines) and says `done` after a clean stop. When
stdin reaches end-of-file without `done` (the owner was killed, even with SIGKILL, so
none of its `finally` blocks ran), the reaper stops those groups and then every server
`scripts/services` started for the stack's ports, so that no Home Assistant, companion,
database process or listening port is left behind.
"""

from __future__ import annotations

from collections.abc import Iterable
import contextlib
import logging
import os
from pathlib import Path
import signal
import subprocess
import sys
import time

REPO = Path(__file__).resolve().parent.parent
SERVICES = REPO / "scripts" / "services"
GRACE_SECONDS = 15.0
LOGGER = logging.getLogger("reaper")


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def stop_groups(groups: Iterable[int], grace: float = GRACE_SECONDS) -> None:
    """SIGTERM each process group, then SIGKILL what is still there after `grace` s."""
    remaining = set(groups)
    for pgid in remaining:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while remaining and time.monotonic() < deadline:
        remaining = {pgid for pgid in remaining if _group_alive(pgid)}
        time.sleep(0.2)
    for pgid in remaining:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, signal.SIGKILL)


def main() -> int:
    """Read the owner's messages until end-of-file; clean up unless told `done`."""
    logging.basicConfig(format="[reaper] %(asctime)s %(message)s")
    groups: set[int] = set()
    finished = False
    # Ctrl-C in the owner's terminal is the owner's to handle; this process must
    # outlive it to do its job.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    for line in sys.stdin:
        command, _, argument = line.strip().partition(" ")
        if command == "group":
            groups.add(int(argument))
        elif command == "forget":
            groups.discard(int(argument))
        elif command == "done":
            finished = True
    if finished:
        return 0
    LOGGER.warning(
        "owner gone; stopping process groups %s and the servers", sorted(groups)
    )
    stop_groups(groups)
    subprocess.run([str(SERVICES), "stop"], check=False)  # noqa: S603 - fixed script path
    LOGGER.warning("everything stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
