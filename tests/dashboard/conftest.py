"""Fixtures of the dashboard tests: the companion in a subprocess, real Chromium, seeding.

Chromium is Debian's (`/usr/bin/chromium`), driven by Playwright for Python over
pipes; the companion runs under uvicorn in its own process, against the real QuestDB
and MongoDB-wire server, with a MongoDB database of its own for every test.
"""

from __future__ import annotations

from collections.abc import Iterator
import contextlib
from dataclasses import dataclass, field
import json
import os
from pathlib import Path
import shutil
import subprocess
import sys
import time
from typing import Any
import urllib.error
import urllib.request

from playwright.sync_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Error as PlaywrightError,
    Page,
    Playwright,
    sync_playwright,
)
import pytest

from tests.servers import REPO, Servers
from tools.hass_runner import DEFAULT_TIME_ZONE

from .seed import drop_database, remember_time_zone

CHROMIUM = os.environ.get("ENERGY_TRACKER_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
COMPANION_PORT = int(os.environ.get("ENERGY_TRACKER_TEST_COMPANION_PORT", "8299"))
ARTIFACTS = REPO / "test-artifacts" / "dashboard"
SCREENSHOTS = REPO / "docs" / "screenshots"
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 375, "height": 812}


def _get(url: str, token: str | None = None, timeout: float = 10) -> tuple[int, Any]:
    request = urllib.request.Request(url, headers={"Accept": "application/json"})  # noqa: S310 - loopback
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - loopback
            body = response.read()
            status = response.status
    except urllib.error.HTTPError as err:
        body = err.read()
        status = err.code
    try:
        return status, json.loads(body) if body else None
    except ValueError:
        return status, body.decode(errors="replace")


@dataclass
class Companion:
    """A running companion process."""

    base_url: str
    database: str
    env: dict[str, str]
    process: subprocess.Popen[bytes]
    log_path: Path

    def url(self, path: str = "/") -> str:
        """Absolute URL of a path below the companion's base path."""
        return f"{self.base_url}{path}"

    def api(self, path: str) -> tuple[int, Any]:
        """GET an API path (blocking), with the API token when one is set."""
        return _get(self.url(f"/api{path}"), self.env.get("ENERGY_TRACKER_API_TOKEN"))

    def post(self, path: str, body: dict[str, Any]) -> tuple[int, Any]:
        """POST JSON to an API path (blocking)."""
        request = urllib.request.Request(  # noqa: S310 - loopback
            self.url(f"/api{path}"),
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json", "Accept": "application/json"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310 - loopback
                return response.status, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as err:
            return err.code, json.loads(err.read() or b"null")

    def log(self) -> str:
        """The companion's output so far (for failure messages)."""
        return self.log_path.read_text(errors="replace")[-4000:]


def start_companion(
    servers: Servers,
    database: str,
    tmp_path: Path,
    extra_env: dict[str, str] | None = None,
) -> Companion:
    """Start uvicorn with the companion and wait until /api/status answers."""
    # Nothing of the developer's own ENERGY_TRACKER_* settings leaks into the test.
    inherited = {
        k: v for k, v in os.environ.items() if not k.startswith("ENERGY_TRACKER_")
    }
    env = {
        **inherited,
        "QUESTDB_HTTP_PORT": str(servers.questdb_http_port),
        "QUESTDB_PG_PORT": str(servers.questdb_pg_port),
        "MONGODB_PORT": str(servers.mongodb_port),
        "ENERGY_TRACKER_MONGODB_DATABASE": database,
        "COMPANION_PORT": str(COMPANION_PORT),
        **(extra_env or {}),
    }
    base_path = env.get("ENERGY_TRACKER_BASE_PATH", "").rstrip("/")
    log_path = tmp_path / "companion.log"
    log = log_path.open("wb")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            "companion.app:create_app",
            "--host",
            "127.0.0.1",
            "--port",
            str(COMPANION_PORT),
            "--log-level",
            "warning",
        ],
        cwd=REPO,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    companion = Companion(
        f"http://127.0.0.1:{COMPANION_PORT}{base_path}",
        database,
        env,
        process,
        log_path,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(
                f"the companion exited at start:\n{companion.log()}", pytrace=False
            )
        try:
            status, _ = companion.api("/status")
            if status == 200:
                return companion
        except OSError:
            pass
        time.sleep(0.1)
    stop_companion(companion)
    pytest.fail(
        f"the companion did not answer within 30 s:\n{companion.log()}", pytrace=False
    )


def stop_companion(companion: Companion) -> None:
    """Stop the companion process (SIGTERM, then SIGKILL)."""
    companion.process.terminate()
    try:
        companion.process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        companion.process.kill()
        companion.process.wait(timeout=5)


@pytest.fixture
def companion(
    servers: Servers, mongodb_database_name: str, tmp_path: Path
) -> Iterator[Companion]:
    """The companion with a MongoDB database of its own, at the root path.

    It has learnt HA's time zone before (the test HA's, as kept in MongoDB), so its
    days are HA's days while no HA answers; a companion that never learnt it shows
    no days (test_days_wait_for_home_assistants_time_zone).
    """
    remember_time_zone(servers, mongodb_database_name, DEFAULT_TIME_ZONE)
    try:
        running = start_companion(servers, mongodb_database_name, tmp_path)
        try:
            yield running
        finally:
            stop_companion(running)
    finally:
        drop_database(servers, mongodb_database_name)


@pytest.fixture
def playwright_instance() -> Iterator[Playwright]:
    """Playwright's driver (talks to Chromium over pipes, not sockets).

    Per test, not per session: the sync API runs an event loop of its own while it
    is open, which must be closed again before pytest-asyncio tears its loop down.
    """
    if not Path(CHROMIUM).exists():
        pytest.fail(
            f"{CHROMIUM} is missing: install Debian's chromium (scripts/bootstrap does)",
            pytrace=False,
        )
    with sync_playwright() as playwright:
        yield playwright


@pytest.fixture
def browser(playwright_instance: Playwright) -> Iterator[Browser]:
    """A headless Chromium for one test."""
    browser = playwright_instance.chromium.launch(
        executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
    )
    try:
        yield browser
    finally:
        browser.close()


@dataclass
class Tab:
    """A page plus what it logged: every console error and uncaught exception."""

    page: Page
    context: BrowserContext
    errors: list[str] = field(default_factory=list)

    def assert_no_console_errors(self) -> None:
        """Fail with the messages when the page logged an error."""
        assert self.errors == [], "console errors:\n" + "\n".join(self.errors)

    def screenshot(self, name: str, *, keep: bool = False) -> Path:
        """Write a full-page screenshot to test-artifacts/.

        With `keep` and ENERGY_TRACKER_UPDATE_DOCS=1 it also replaces the README's copy
        in docs/screenshots/; a plain test run never changes tracked files.
        """
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        if keep and os.environ.get("ENERGY_TRACKER_UPDATE_DOCS") == "1":
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, SCREENSHOTS / f"{name}.png")
        return path

    def no_horizontal_scroll(self) -> None:
        """The page fits the viewport's width."""
        widths = self.page.evaluate(
            "() => [document.documentElement.scrollWidth, window.innerWidth]"
        )
        assert widths[0] <= widths[1], f"horizontal scroll: {widths}"


def open_tab(
    browser: Browser,
    *,
    viewport: dict[str, int] | None = None,
    locale: str = "en-US",
    timezone_id: str = "America/New_York",
    color_scheme: str = "light",
) -> Tab:
    """A fresh browser context (own storage) with console capture."""
    context = browser.new_context(
        viewport=viewport or DESKTOP,  # type: ignore[arg-type]
        locale=locale,
        timezone_id=timezone_id,
        color_scheme=color_scheme,  # type: ignore[arg-type]
        accept_downloads=True,
    )
    page = context.new_page()
    tab = Tab(page, context)

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            tab.errors.append(f"console: {message.text} ({message.location})")

    page.on("console", on_console)
    page.on("pageerror", lambda err: tab.errors.append(f"pageerror: {err}"))
    page.set_default_timeout(15_000)
    return tab


@pytest.fixture
def tab(browser: Browser) -> Iterator[Tab]:
    """A desktop-sized page."""
    opened = open_tab(browser)
    try:
        yield opened
    finally:
        with contextlib.suppress(PlaywrightError):
            opened.context.close()


def painted_pixels(page: Page, selector: str) -> int:
    """How many pixels of the chart's canvas are not transparent."""
    return int(
        page.evaluate(
            """(sel) => {
                const canvas = document.querySelector(sel + ' canvas');
                if (!canvas) return 0;
                const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
                let n = 0;
                for (let i = 3; i < data.length; i += 4) if (data[i] > 0) n++;
                return n;
            }""",
            selector,
        )
    )
