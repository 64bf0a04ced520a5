"""The whole Energy Tracker system as real processes: the demo and the system test.

QuestDB and the MongoDB-wire server through `scripts/services`, a real Home Assistant
through `tools.hass_runner` with this integration linked into its `custom_components/`
and set up through HA's own config-flow API (as a user clicking through the UI), and
the companion as `python -m companion`. Every port comes from `StackPorts`, so a test
stack never touches the servers of the test suite or of the demo.

A `tools.reaper` child watches over every stack: when the process owning the stack dies
without stopping it (a test run killed from outside), the reaper stops all of it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
import json
import os
from pathlib import Path
import subprocess
import sys
import time
from typing import Any, Self
import urllib.error
import urllib.request

from tools.hass_runner import (
    DEFAULT_TIME_ZONE,
    HomeAssistantError,
    HomeAssistantProcess,
)

REPO = Path(__file__).resolve().parent.parent
INTEGRATION = REPO / "custom_components" / "energy_tracker"
DOMAIN = "energy_tracker"


@dataclass(frozen=True, slots=True)
class StackPorts:
    """Loopback ports of every process of one stack."""

    questdb_http: int = 9000
    questdb_pg: int = 8812
    mongodb: int = 27017
    home_assistant: int = 8123
    companion: int = 8099

    @classmethod
    def from_env(cls) -> Self:
        """Read the same variables as scripts/services, with the same defaults."""
        env = os.environ
        return cls(
            questdb_http=int(env.get("QUESTDB_HTTP_PORT", "9000")),
            questdb_pg=int(env.get("QUESTDB_PG_PORT", "8812")),
            mongodb=int(env.get("MONGODB_PORT", "27017")),
            home_assistant=int(env.get("HA_PORT", "8123")),
            companion=int(env.get("COMPANION_PORT", "8099")),
        )

    def env(self) -> dict[str, str]:
        """The variables that point scripts/services and the companion at these ports."""
        return {
            "QUESTDB_HTTP_PORT": str(self.questdb_http),
            "QUESTDB_PG_PORT": str(self.questdb_pg),
            "MONGODB_PORT": str(self.mongodb),
            "HA_PORT": str(self.home_assistant),
            "COMPANION_PORT": str(self.companion),
        }


class HTTPStatusError(OSError):
    """A loopback HTTP request was answered with an error status (the body says why)."""


def http_json(
    url: str,
    *,
    method: str = "GET",
    body: Any = None,
    token: str | None = None,
    timeout: float = 10,
) -> Any:
    """Send one JSON request to a loopback URL and decode the answer."""
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, headers=headers, method=method)  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - loopback
            raw = response.read()
    except urllib.error.HTTPError as err:
        raise HTTPStatusError(
            f"{method} {url} -> {err.code}: {err.read()[:500]!r}"
        ) from None
    return json.loads(raw) if raw else None


@dataclass
class Stack:
    """One set of real processes: servers, Home Assistant, the companion."""

    run_dir: Path
    ports: StackPorts = field(default_factory=StackPorts.from_env)
    ha_extra_config: str = ""
    time_zone: str = DEFAULT_TIME_ZONE
    companion_env: dict[str, str] = field(default_factory=dict)
    hass: HomeAssistantProcess = field(init=False)
    companion: subprocess.Popen[bytes] | None = field(default=None, init=False)
    _reaper: subprocess.Popen[str] | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        """Prepare Home Assistant's configuration folder."""
        self.hass = HomeAssistantProcess(
            config_dir=self.run_dir / "homeassistant",
            port=self.ports.home_assistant,
            extra_config=self.ha_extra_config,
            time_zone=self.time_zone,
            on_spawn=self._watch,
        )

    # --- the reaper ------------------------------------------------------------------

    def _start_reaper(self) -> subprocess.Popen[str]:
        if self._reaper is None:
            (self.run_dir / "logs").mkdir(parents=True, exist_ok=True)
            with (self.run_dir / "logs" / "reaper.log").open("a") as log:
                self._reaper = subprocess.Popen(
                    [sys.executable, "-m", "tools.reaper"],
                    cwd=REPO,
                    env=self.env,
                    stdin=subprocess.PIPE,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    text=True,
                    # Not in the owner's process group: a signal to the group (Ctrl-C,
                    # a CI runner stopping the job) must leave the reaper to clean up.
                    start_new_session=True,
                )
        return self._reaper

    def _tell_reaper(self, message: str) -> None:
        stdin = self._start_reaper().stdin
        if stdin is None:
            raise RuntimeError("the reaper has no stdin")
        stdin.write(message + "\n")
        stdin.flush()

    def _watch(self, pid: int) -> None:
        """Have the reaper stop this process group should the owner die."""
        self._tell_reaper(f"group {pid}")

    def _forget(self, pid: int | None) -> None:
        if pid is not None and self._reaper is not None:
            self._tell_reaper(f"forget {pid}")

    def _dismiss_reaper(self) -> None:
        """Everything is stopped: the reaper has nothing left to do."""
        reaper, self._reaper = self._reaper, None
        if reaper is None or reaper.stdin is None:
            return
        try:
            reaper.stdin.write("done\n")
            reaper.stdin.close()
        except BrokenPipeError:
            pass
        reaper.wait(timeout=10)

    @property
    def env(self) -> dict[str, str]:
        """Environment for child processes: this stack's ports and run folder."""
        return {
            **os.environ,
            **self.ports.env(),
            "ENERGY_TRACKER_RUN": str(self.run_dir),
        }

    @property
    def companion_url(self) -> str:
        """Base URL of the companion."""
        return f"http://127.0.0.1:{self.ports.companion}"

    @property
    def questdb_url(self) -> str:
        """Base URL of QuestDB's HTTP server."""
        return f"http://127.0.0.1:{self.ports.questdb_http}"

    @property
    def mongodb_uri(self) -> str:
        """MongoDB URI of this stack."""
        return f"mongodb://127.0.0.1:{self.ports.mongodb}/"

    # --- servers ---------------------------------------------------------------

    def services(self, command: str, *names: str) -> None:
        """Run scripts/services for this stack's ports."""
        if command == "start":
            self._start_reaper()
        subprocess.run(  # noqa: S603 - fixed script path
            [str(REPO / "scripts" / "services"), command, *names],
            check=True,
            env=self.env,
        )

    # --- Home Assistant --------------------------------------------------------

    def link_integration(self) -> None:
        """Install the integration into HA's custom_components as a link to the working tree."""
        target = self.hass.config_dir / "custom_components" / DOMAIN
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.is_symlink() or target.exists():
            if target.resolve() == INTEGRATION.resolve():
                return
            target.unlink()
        target.symlink_to(INTEGRATION, target_is_directory=True)

    def start_home_assistant(self) -> str:
        """Start HA with the integration linked in; return its long-lived token."""
        self.link_integration()
        return self.hass.start()

    def ha_api(self, method: str, path: str, body: Any = None) -> Any:
        """Call HA's REST API with the long-lived token."""
        return http_json(
            f"{self.hass.url}{path}", method=method, body=body, token=self.hass.token
        )

    def add_integration(self, mongodb_database: str = "energy_tracker") -> str:
        """Set the integration up through HA's config-flow API; return the entry id.

        Idempotent: when the same QuestDB + MongoDB pair is configured already, the
        flow aborts with `already_configured` and the existing entry is returned.
        """
        flow = self.ha_api(
            "POST",
            "/api/config/config_entries/flow",
            {"handler": DOMAIN, "show_advanced_options": False},
        )
        if flow["type"] == "form":
            flow = self.ha_api(
                "POST",
                f"/api/config/config_entries/flow/{flow['flow_id']}",
                {
                    "questdb_url": self.questdb_url,
                    "verify_ssl": True,
                    "mongodb_uri": self.mongodb_uri,
                    "mongodb_database": mongodb_database,
                },
            )
        if flow["type"] == "create_entry":
            return str(flow["result"]["entry_id"])
        if flow["type"] == "abort" and flow.get("reason") == "already_configured":
            entries = self.ha_api(
                "GET", f"/api/config/config_entries/entry?domain={DOMAIN}"
            )
            return str(entries[0]["entry_id"])
        raise HomeAssistantError(f"the config flow did not create an entry: {flow}")

    def set_integration_options(self, entry_id: str, **options: Any) -> dict[str, Any]:
        """Change the entry's options through HA's options-flow API (as the Configure dialog does)."""
        flow = self.ha_api(
            "POST", "/api/config/config_entries/options/flow", {"handler": entry_id}
        )
        if flow["type"] != "form":
            raise HomeAssistantError(f"the options flow did not open: {flow}")
        # Submit the form as a user would: every field as shown, with the changes made.
        shown: dict[str, Any] = {}
        for field_schema in flow.get("data_schema", []):
            value = field_schema.get(
                "default",
                (field_schema.get("description") or {}).get("suggested_value"),
            )
            if value is not None:
                shown[field_schema["name"]] = value
        result: dict[str, Any] = self.ha_api(
            "POST",
            f"/api/config/config_entries/options/flow/{flow['flow_id']}",
            {**shown, **options},
        )
        if result["type"] != "create_entry":
            raise HomeAssistantError(f"the options flow refused {options}: {result}")
        return result

    def stop_home_assistant(self) -> None:
        """Stop HA gracefully."""
        pid = self.hass.pid
        self.hass.stop()
        self._forget(pid)

    def restart_home_assistant(self) -> None:
        """Stop HA gracefully and start it again on the same configuration."""
        self.stop_home_assistant()
        self.hass.start()

    # --- companion ---------------------------------------------------------------

    def start_companion(self, timeout: float = 60) -> dict[str, Any]:
        """Start `python -m companion` and wait until /api/status answers."""
        if self.companion is not None and self.companion.poll() is None:
            raise RuntimeError("the companion is running already")
        env = {
            **self.env,
            "ENERGY_TRACKER_HA_URL": self.hass.url,
            "ENERGY_TRACKER_HA_TOKEN": self.hass.token or "",
            **self.companion_env,
        }
        (self.run_dir / "logs").mkdir(parents=True, exist_ok=True)
        with (self.run_dir / "logs" / f"companion-{self.ports.companion}.log").open(
            "ab"
        ) as log:
            self.companion = subprocess.Popen(
                [sys.executable, "-m", "companion"],
                cwd=REPO,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self._watch(self.companion.pid)
        deadline = time.monotonic() + timeout
        while True:
            try:
                status: dict[str, Any] = http_json(
                    f"{self.companion_url}/api/status", timeout=3
                )
            except (urllib.error.URLError, OSError, ValueError):
                if self.companion.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(
                        f"the companion did not start; see {self.run_dir / 'logs'}"
                    ) from None
                time.sleep(0.3)
            else:
                return status

    def stop_companion(self) -> None:
        """Stop the companion gracefully (SIGTERM, then SIGKILL)."""
        process, self.companion = self.companion, None
        if process is None:
            return
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)
        self._forget(process.pid)

    # --- everything ----------------------------------------------------------------

    def start(self) -> None:
        """Servers, Home Assistant with the integration set up, the companion."""
        self.services("start")
        self.start_home_assistant()
        self.add_integration()
        self.start_companion()

    def stop(self) -> None:
        """Stop every process this stack started, in reverse order."""
        try:
            self.stop_companion()
        finally:
            try:
                self.stop_home_assistant()
            finally:
                try:
                    self.services("stop")
                finally:
                    self._dismiss_reaper()
