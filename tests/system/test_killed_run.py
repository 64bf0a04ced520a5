"""A test run killed from outside leaves no process and no listening port behind."""

from __future__ import annotations

import os
from pathlib import Path
import signal
import subprocess
import sys
import time

import pytest

from tests.servers import REPO, SERVICES_SCRIPT
from tests.system.conftest import FAULT_STACK_PORTS
from tools.stack import http_json

CLEAN_UP_SECONDS = 90


def _stack_ports() -> set[int]:
    """Every port of the fault test's stack, the servers' as scripts/services has them."""
    printed = subprocess.run(
        [str(SERVICES_SCRIPT), "env"],
        env={**os.environ, **FAULT_STACK_PORTS.env()},
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    ports = {
        int(value) for _, _, value in (line.partition("=") for line in printed.split())
    }
    return ports | {FAULT_STACK_PORTS.home_assistant, FAULT_STACK_PORTS.companion}


def _listening(ports: set[int]) -> set[int]:
    listed = subprocess.run(
        ["ss", "-Hltn"], capture_output=True, text=True, check=True
    ).stdout
    local_ports = {
        int(columns[3].rpartition(":")[2])
        for columns in (line.split() for line in listed.splitlines())
        if len(columns) >= 4
    }
    return ports & local_ports


def _processes_of(folder: Path) -> dict[int, str]:
    """Processes (other than this one) whose command line or environment name `folder`."""
    marker = str(folder).encode()
    found: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
            environ = (entry / "environ").read_bytes()
        except OSError:  # gone meanwhile, or not ours to read
            continue
        if marker in cmdline or marker in environ:
            found[int(entry.name)] = cmdline.replace(b"\0", b" ").decode(
                errors="replace"
            )[:200]
    return found


@pytest.mark.system
def test_pytest_killed_during_the_system_test_leaves_nothing_running(
    tmp_path: Path, socket_enabled: None
) -> None:
    """SIGKILL pytest while the fault test drives its stack; everything stops anyway."""
    inner_tmp = tmp_path / "inner"
    ports = _stack_ports()
    assert not _listening(ports), "the fault test's ports are taken before the run"
    with (tmp_path / "pytest.log").open("wb") as log:
        run = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "pytest",
                "tests/system/test_faults.py",
                "-q",
                "-p",
                "no:cacheprovider",
                f"--basetemp={inner_tmp}",
            ],
            cwd=REPO,
            env={**os.environ, "CI": "1"},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 300
        while True:
            assert run.poll() is None, (tmp_path / "pytest.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "the fault test's stack never came up"
            try:
                http_json(
                    f"http://127.0.0.1:{FAULT_STACK_PORTS.companion}/api/status",
                    timeout=3,
                )
                break
            except OSError:
                time.sleep(1)
        time.sleep(5)  # the driver is posting states: the stack is in full use
        assert _processes_of(inner_tmp), "the check below would find nothing to find"
    finally:
        if run.poll() is None:
            os.kill(run.pid, signal.SIGKILL)
        run.wait(timeout=10)

    deadline = time.monotonic() + CLEAN_UP_SECONDS
    while True:
        left = _processes_of(inner_tmp)
        still_listening = _listening(ports)
        if not left and not still_listening:
            break
        if time.monotonic() > deadline:
            for pid in left:  # so that the rest of the suite can run
                os.kill(pid, signal.SIGKILL)
            pytest.fail(
                f"{CLEAN_UP_SECONDS} s after pytest was killed: processes {left}, "
                f"listening ports {sorted(still_listening)}"
            )
        time.sleep(1)
