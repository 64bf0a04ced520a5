"""Start a real Home Assistant process for tests, demos and benchmarks.

`HomeAssistantProcess(config_dir, port).start()` writes a minimal configuration
(http on 127.0.0.1, recorder on SQLite in the config folder, history, energy,
onboarding, api, websocket_api, sensor), runs `hass -c CONFIG --skip-pip`, creates
the owner through onboarding and returns a long-lived access token. Blocking,
standard library only (plus aiohttp for the one WebSocket exchange).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
import json
import os
from pathlib import Path
import shutil
import signal
import socket
import subprocess
import sys
import time
from typing import Any, Self
import urllib.error
import urllib.parse
import urllib.request

import aiohttp

DEFAULT_TIME_ZONE = "Europe/Amsterdam"
_OWNER = {"name": "Energy Tracker Test", "username": "owner", "language": "en"}


class HomeAssistantError(RuntimeError):
    """Home Assistant did not start or refused a request."""


def _run[T](coroutine: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine on a loop of its own, leaving the thread's event loop as it was.

    Plain asyncio.run() ends by unsetting the thread's loop, after which
    asyncio.get_event_loop() raises in the main thread (HA's test plugin calls
    it in a fixture of every test).
    """
    return asyncio.run(coroutine, loop_factory=asyncio.new_event_loop)


def _hass_binary() -> str:
    """Return the `hass` next to the running interpreter, else the one on PATH."""
    candidate = Path(sys.executable).with_name("hass")
    if candidate.exists():
        return str(candidate)
    found = shutil.which("hass")
    if found is None:
        raise HomeAssistantError("the `hass` command is not installed")
    return found


@dataclass
class HomeAssistantProcess:
    """One Home Assistant process with its own configuration folder."""

    config_dir: Path
    port: int
    time_zone: str = DEFAULT_TIME_ZONE
    extra_config: str = ""
    startup_timeout: float = 120.0
    token: str | None = field(default=None, repr=False)
    on_spawn: Callable[[int], None] | None = field(default=None, repr=False)
    """Called with the process id (also its process group) as soon as HA is spawned."""
    _process: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    _password: str = field(default="", repr=False)

    @property
    def url(self) -> str:
        """Base URL of the HTTP API."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def websocket_url(self) -> str:
        """URL of the WebSocket API."""
        return f"ws://127.0.0.1:{self.port}/api/websocket"

    @property
    def pid(self) -> int | None:
        """Process id of the running HA (its process group too), if any."""
        return self._process.pid if self.running and self._process else None

    @property
    def running(self) -> bool:
        """Whether the process is alive."""
        return self._process is not None and self._process.poll() is None

    def write_config(self) -> None:
        """Write configuration.yaml (overwritten at each start)."""
        self.config_dir.mkdir(parents=True, exist_ok=True)
        db_path = (self.config_dir / "home-assistant_v2.db").resolve()
        config = f"""\
homeassistant:
  name: Energy Tracker Test
  latitude: 52.37
  longitude: 4.89
  elevation: 0
  unit_system: metric
  currency: EUR
  country: NL
  time_zone: {self.time_zone}
http:
  server_host: 127.0.0.1
  server_port: {self.port}
recorder:
  db_url: sqlite:///{db_path}
  commit_interval: 0
  purge_keep_days: 3650
history:
energy:
onboarding:
api:
websocket_api:
sensor:
logger:
  default: warning
{self.extra_config}
"""
        (self.config_dir / "configuration.yaml").write_text(config, encoding="utf-8")

    def start(self) -> str:
        """Start HA, wait until it answers and return a long-lived access token."""
        if self.running:
            raise HomeAssistantError("already running")
        if self._port_in_use():
            raise HomeAssistantError(f"port {self.port} is already in use")
        self.write_config()
        log = (self.config_dir / "hass-stdout.log").open("ab")
        command = [_hass_binary(), "-c", str(self.config_dir), "--skip-pip"]
        if cpus := os.environ.get("ENERGY_TRACKER_HA_CPUS"):
            # A slow machine on demand (e.g. a Raspberry Pi's share of one core): HA
            # pinned to these CPUs, which something else can keep busy.
            command = ["taskset", "--cpu-list", cpus, *command]
        self._process = subprocess.Popen(  # noqa: S603 - fixed argument list
            command,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        log.close()
        if self.on_spawn is not None:
            self.on_spawn(self._process.pid)
        self._wait_until_up()
        token_file = self.config_dir / ".energy_tracker_token"
        if token_file.exists():
            self.token = token_file.read_text(encoding="utf-8").strip()
            if self._token_works(self.token):
                return self.token
        access = self._onboard()
        self.token = _run(self._long_lived_token(access))
        token_file.write_text(self.token, encoding="utf-8")
        token_file.chmod(0o600)
        return self.token

    def stop(self, timeout: float = 30.0) -> None:
        """Stop HA gracefully (SIGTERM), killing it after `timeout` seconds."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)

    def __enter__(self) -> Self:
        """Start on entering a `with` block."""
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        """Stop on leaving the `with` block."""
        self.stop()

    def _request(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        *,
        form: dict[str, str] | None = None,
        token: str | None = None,
        timeout: float = 10.0,
    ) -> Any:
        """Send one HTTP request to HA and decode its JSON answer."""
        headers: dict[str, str] = {}
        data: bytes | None = None
        if form is not None:
            data = urllib.parse.urlencode(form).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        elif body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        request = urllib.request.Request(  # noqa: S310 - loopback URL built here
            self.url + path, data=data, headers=headers, method=method
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
                raw = response.read()
        except urllib.error.HTTPError as err:
            raise HomeAssistantError(
                f"{method} {path} -> {err.code}: {err.read()[:500]!r}"
            ) from None
        return json.loads(raw) if raw else None

    def _port_in_use(self) -> bool:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.settimeout(1)
            return probe.connect_ex(("127.0.0.1", self.port)) == 0

    def _wait_until_up(self) -> None:
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self._process is None or self._process.poll() is not None:
                raise HomeAssistantError(
                    f"hass exited during start-up; see {self.config_dir}/home-assistant.log"
                )
            try:
                self._request("GET", "/api/onboarding", timeout=2)
            except (OSError, HomeAssistantError):
                time.sleep(0.3)
                continue
            return
        self.stop()
        raise HomeAssistantError(f"hass did not answer within {self.startup_timeout}s")

    def _token_works(self, token: str) -> bool:
        try:
            self._request("GET", "/api/", token=token)
        except (OSError, HomeAssistantError):
            return False
        return True

    def _onboard(self) -> str:
        """Create the owner and return a short-lived access token."""
        password_file = self.config_dir / ".energy_tracker_owner"
        if not password_file.exists():
            password_file.write_text(os.urandom(16).hex(), encoding="utf-8")
            password_file.chmod(0o600)
        self._password = password_file.read_text(encoding="utf-8").strip()
        client_id = f"{self.url}/"
        answer = self._request(
            "POST",
            "/api/onboarding/users",
            {**_OWNER, "client_id": client_id, "password": self._password},
        )
        tokens = self._request(
            "POST",
            "/auth/token",
            form={
                "grant_type": "authorization_code",
                "code": answer["auth_code"],
                "client_id": client_id,
            },
        )
        return str(tokens["access_token"])

    async def _long_lived_token(self, access_token: str) -> str:
        async with (
            aiohttp.ClientSession() as session,
            session.ws_connect(self.websocket_url) as ws,
        ):
            await ws.receive_json()  # auth_required
            await ws.send_json({"type": "auth", "access_token": access_token})
            auth = await ws.receive_json()
            if auth.get("type") != "auth_ok":
                raise HomeAssistantError(f"authentication failed: {auth.get('type')}")
            await ws.send_json(
                {
                    "id": 1,
                    "type": "auth/long_lived_access_token",
                    "client_name": "energy-tracker-tests",
                    "lifespan": 3650,
                }
            )
            result = await ws.receive_json()
            if not result.get("success"):
                raise HomeAssistantError(f"no long-lived token: {result.get('error')}")
            return str(result["result"])

    def post_state(
        self,
        entity_id: str,
        state: str | float,
        attributes: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Set an entity's state through the REST API (HA records it)."""
        answer: dict[str, Any] = self._request(
            "POST",
            f"/api/states/{entity_id}",
            {"state": str(state), "attributes": attributes or {}},
            token=self._require_token(),
        )
        return answer

    def get_state(self, entity_id: str) -> dict[str, Any]:
        """Read an entity's state through the REST API."""
        answer: dict[str, Any] = self._request(
            "GET", f"/api/states/{entity_id}", token=self._require_token()
        )
        return answer

    def websocket_command(self, payload: dict[str, Any]) -> Any:
        """Run one WebSocket command with the long-lived token and return its result."""
        return _run(self._websocket_command(payload))

    async def _websocket_command(self, payload: dict[str, Any]) -> Any:
        async with (
            aiohttp.ClientSession() as session,
            session.ws_connect(self.websocket_url) as ws,
        ):
            await ws.receive_json()
            await ws.send_json({"type": "auth", "access_token": self._require_token()})
            if (await ws.receive_json()).get("type") != "auth_ok":
                raise HomeAssistantError("authentication failed")
            await ws.send_json({"id": 1, **payload})
            result = await ws.receive_json()
            if not result.get("success"):
                raise HomeAssistantError(f"{payload['type']}: {result.get('error')}")
            return result.get("result")

    def _require_token(self) -> str:
        if self.token is None:
            raise HomeAssistantError("not started")
        return self.token


def main() -> None:
    """Run HA in the foreground: `python -m tools.hass_runner CONFIG_DIR PORT`."""
    config_dir, port = Path(sys.argv[1]), int(sys.argv[2])
    runner = HomeAssistantProcess(config_dir, port)
    token = runner.start()
    print(json.dumps({"url": runner.url, "token": token}), flush=True)  # noqa: T201
    try:
        while runner.running:
            time.sleep(1)
    except KeyboardInterrupt:
        pass
    finally:
        runner.stop()


if __name__ == "__main__":
    main()
