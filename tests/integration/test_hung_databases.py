"""Databases that hang, go, come back or stop applying writes: capture never waits.

A hung database is a TCP server of the test's own in front of the real one: it
accepts connections and answers nothing (what a stopped or wedged process does)
until it is switched to forwarding, when every connection it holds is passed on.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
import logging
import os
import subprocess
import time
from typing import Any, Self

from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from pymongo.asynchronous.database import AsyncDatabase
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry  # type: ignore[import-untyped]
import pytest_socket  # type: ignore[import-untyped]

from custom_components.energy_tracker.const import (
    CONF_MONGODB_URI,
    SETUP_CHECK_TIMEOUT,
    STATUS_DISCONNECTED,
    STATUS_OK,
)
from tests.servers import (
    SERVICES_SCRIPT,
    Servers,
    free_port,
    questdb_rows,
    questdb_sql,
    wait_for_rows,
)

from .conftest import ENERGY, Refusing, make_entry, questdb_refusing, setup_entry

LOGGER_NAME = "custom_components.energy_tracker"
# Set-up may wait SETUP_CHECK_TIMEOUT for QuestDB's answer, and no more.
SETUP_BOUND = SETUP_CHECK_TIMEOUT + 3


class SwitchableProxy:
    """A loopback TCP server in front of a real one: hangs, refuses or forwards.

    "hang": accepts and reads nothing, answers nothing; "refuse": closes each
    connection at once (a server that is down); "forward": passes bytes both
    ways. A connection held while hung is forwarded, with what the client had
    sent, once the proxy forwards (a process that wakes up).
    """

    def __init__(self, upstream_port: int, mode: str = "hang") -> None:
        """Forward to 127.0.0.1:`upstream_port` once told to."""
        self._upstream_port = upstream_port
        self.mode = mode
        self._forwarding = asyncio.Event()
        self._handlers: set[asyncio.Task[Any]] = set()
        self._server: asyncio.Server | None = None
        self.port = 0

    async def __aenter__(self) -> Self:
        """Listen on a free loopback port."""
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        if self.mode == "forward":
            self._forwarding.set()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        """Stop listening and drop every connection."""
        assert self._server is not None
        self._server.close()
        for task in list(self._handlers):
            task.cancel()
        await asyncio.gather(*self._handlers, return_exceptions=True)
        await self._server.wait_closed()

    def forward(self) -> None:
        """Pass every connection on, those held while hung too."""
        self.mode = "forward"
        self._forwarding.set()

    async def _handle(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        upstream: asyncio.StreamWriter | None = None
        try:
            if self.mode == "refuse":
                return
            await self._forwarding.wait()
            up_reader, upstream = await asyncio.open_connection(
                "127.0.0.1", self._upstream_port
            )
            await asyncio.gather(_pipe(reader, upstream), _pipe(up_reader, writer))
        finally:
            self._handlers.discard(task)
            for stream in (writer, upstream):
                if stream is not None:
                    stream.close()


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Copy until either side closes."""
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except ConnectionError:
        pass
    finally:
        writer.close()


def _energy_tracker_records(
    caplog: pytest.LogCaptureFixture, text: str
) -> list[logging.LogRecord]:
    return [
        record
        for record in caplog.records
        if record.name.startswith(LOGGER_NAME) and text in record.getMessage()
    ]


async def _set_up_timed(hass: HomeAssistant, entry: MockConfigEntry) -> float:
    """Set the entry up; return the seconds it took (a hang fails, it never blocks)."""
    entry.add_to_hass(hass)
    started = time.monotonic()
    async with asyncio.timeout(60):
        assert await hass.config_entries.async_setup(entry.entry_id)
    took = time.monotonic() - started
    assert entry.state is ConfigEntryState.LOADED
    return took


async def _wait_for(description: str, check: Any, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"{description}: not within {timeout}s"
        await asyncio.sleep(0.1)


async def test_questdb_hung_at_set_up(
    hass: HomeAssistant,
    servers: Servers,
    mongodb_database_name: str,
    entity_suffix: str,
) -> None:
    """Set-up ends within seconds, captures at once, and writes once QuestDB answers."""
    meter = f"sensor.hung_q_{entity_suffix}"
    async with SwitchableProxy(servers.questdb_http_port) as proxy:
        entry = make_entry(
            servers,
            mongodb_database_name,
            questdb_url=f"http://127.0.0.1:{proxy.port}",
        )
        took = await _set_up_timed(hass, entry)
        assert took < SETUP_BOUND, f"set-up waited {took:.1f}s on a hung QuestDB"
        forwarder = entry.runtime_data.forwarder
        for value in range(20):
            hass.states.async_set(meter, str(value), ENERGY)
        assert forwarder.buffered >= 20  # captured while QuestDB answers nothing

        proxy.forward()
        rows = await wait_for_rows(
            servers,
            f"select value from energy_readings where entity_id = '{meter}'",
            20,
            timeout=60,
        )
        assert sorted(row[0] for row in rows) == [float(v) for v in range(20)]
        assert forwarder.stats.questdb_status == STATUS_OK
        assert await hass.config_entries.async_unload(entry.entry_id)


async def test_mongodb_hung_at_set_up(  # noqa: PLR0917 - fixtures
    hass: HomeAssistant,
    servers: Servers,
    mongodb_database_name: str,
    entity_suffix: str,
    mongo_db: AsyncDatabase[dict[str, object]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Readings reach QuestDB while MongoDB hangs; its documents follow once it answers.

    The "unavailable" line of a MongoDB lost while the entry was starting is
    followed by one "available again", both at WARNING (HA's default level).
    """
    meter = f"sensor.hung_m_{entity_suffix}"
    async with SwitchableProxy(servers.mongodb_port) as proxy:
        entry = make_entry(servers, mongodb_database_name)
        entry.add_to_hass(hass)
        hass.config_entries.async_update_entry(
            entry,
            data={**entry.data, CONF_MONGODB_URI: f"mongodb://127.0.0.1:{proxy.port}/"},
        )
        took = time.monotonic()
        async with asyncio.timeout(60):
            assert await hass.config_entries.async_setup(entry.entry_id)
        took = time.monotonic() - took
        assert entry.state is ConfigEntryState.LOADED
        assert took < SETUP_BOUND, f"set-up waited {took:.1f}s on a hung MongoDB"
        forwarder = entry.runtime_data.forwarder
        for value in range(5):
            hass.states.async_set(meter, str(value), ENERGY)
        await forwarder.async_flush()
        await wait_for_rows(
            servers,
            f"select value from energy_readings where entity_id = '{meter}'",
            5,
        )
        await _wait_for(
            "MongoDB reported unavailable",
            lambda: forwarder.stats.mongodb_status == STATUS_DISCONNECTED,
        )

        proxy.forward()
        documents: list[dict[str, object]] = []

        async def entity_document_written() -> bool:
            documents[:] = await mongo_db["entities"].find({"_id": meter}).to_list()
            return bool(documents)

        deadline = time.monotonic() + 60
        while not await entity_document_written():
            assert time.monotonic() < deadline, "no entity document within 60s"
            await asyncio.sleep(0.2)
        assert documents[0]["last_seen"] is not None
        await _wait_for(
            "MongoDB back", lambda: forwarder.stats.mongodb_status == STATUS_OK
        )
        assert await mongo_db["forwarder_state"].count_documents({}) == 1
        assert await hass.config_entries.async_unload(entry.entry_id)

    went = _energy_tracker_records(caplog, "MongoDB is unavailable")
    back = _energy_tracker_records(caplog, "MongoDB is available again")
    assert len(went) == 1 and went[0].levelno == logging.WARNING
    assert len(back) == 1 and back[0].levelno == logging.WARNING


async def test_questdb_down_at_start_says_when_it_is_back(
    hass: HomeAssistant,
    servers: Servers,
    mongodb_database_name: str,
    entity_suffix: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """QuestDB lost while the entry is starting: "unavailable", then "available again"."""
    meter = f"sensor.down_q_{entity_suffix}"
    async with SwitchableProxy(servers.questdb_http_port, mode="refuse") as proxy:
        entry = make_entry(
            servers,
            mongodb_database_name,
            questdb_url=f"http://127.0.0.1:{proxy.port}",
        )
        took = await _set_up_timed(hass, entry)
        assert took < SETUP_BOUND
        forwarder = entry.runtime_data.forwarder
        await _wait_for(
            "QuestDB reported unavailable",
            lambda: forwarder.stats.questdb_status == STATUS_DISCONNECTED,
            20,
        )
        for value in range(5):
            hass.states.async_set(meter, str(value), ENERGY)
        await forwarder.async_flush()
        assert forwarder.spool.rows == 5

        proxy.forward()
        await forwarder.async_flush()
        assert forwarder.stats.questdb_status == STATUS_OK
        assert forwarder.spool.rows == 0
        await wait_for_rows(
            servers,
            f"select value from energy_readings where entity_id = '{meter}'",
            5,
        )
        assert await hass.config_entries.async_unload(entry.entry_id)

    went = _energy_tracker_records(caplog, "QuestDB is unavailable")
    back = _energy_tracker_records(caplog, "QuestDB is available again")
    assert len(went) == 1 and went[0].levelno == logging.WARNING
    assert len(back) == 1 and back[0].levelno == logging.WARNING
    assert "writing the 5 spooled reading(s)" in back[0].getMessage()


def _readings_suspended(servers: Servers) -> bool:
    rows = questdb_rows(
        servers, "select suspended from wal_tables() where name = 'energy_readings'"
    )
    return bool(rows and rows[0][0])


@pytest.fixture(scope="module")
def _dev_mode_questdb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """A QuestDB of this module's own in dev mode, the one mode where QuestDB takes
    ALTER TABLE … SUSPEND WAL (a real suspension needs a failed apply); its HTTP port."""
    # Module fixtures run while pytest-socket blocks sockets: allow them for the ports.
    pytest_socket.enable_socket()
    try:
        http_port, pg_port = free_port(), free_port()
    finally:
        pytest_socket.socket_allow_hosts(["127.0.0.1"])
        pytest_socket.disable_socket(allow_unix_socket=True)
    env = {
        **os.environ,
        "QUESTDB_HTTP_PORT": str(http_port),
        "QUESTDB_PG_PORT": str(pg_port),
        "ENERGY_TRACKER_RUN": str(tmp_path_factory.mktemp("dev_mode_questdb")),
        "QUESTDB_HEAP": "512m",
        "QDB_DEV_MODE_ENABLED": "true",
    }

    def services(command: str) -> None:
        result = subprocess.run(
            [str(SERVICES_SCRIPT), command, "questdb"],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        assert result.returncode == 0, result.stderr[-2000:]

    services("start")
    try:
        yield http_port
    finally:
        services("stop")


@pytest.fixture
def dev_servers(servers: Servers, _dev_mode_questdb: int) -> Servers:
    """The real servers, with the dev-mode QuestDB for QuestDB."""
    return Servers(_dev_mode_questdb, 0, servers.mongodb_port)


@pytest.fixture
def suspend_readings(dev_servers: Servers) -> Iterator[Callable[[], None]]:
    """Suspend energy_readings' WAL apply, as QuestDB does after a failed apply."""

    def suspend() -> None:
        questdb_sql(dev_servers, "ALTER TABLE energy_readings SUSPEND WAL")
        assert _readings_suspended(dev_servers)

    yield suspend
    if _readings_suspended(dev_servers):
        questdb_sql(dev_servers, "ALTER TABLE energy_readings RESUME WAL")


async def _quiet_writer(
    hass: HomeAssistant, servers: Servers, database: str, questdb_url: str | None
) -> Any:
    """Set an entry up whose writer flushes only when told (so each check is the test's)."""
    entry = await setup_entry(
        hass, make_entry(servers, database, questdb_url=questdb_url)
    )
    forwarder = entry.runtime_data.forwarder
    forwarder.flush_interval = 3600
    forwarder._wake.set()  # the writer takes the new interval
    await asyncio.sleep(0.1)
    return entry


async def test_suspended_readings_table_is_resumed(  # noqa: PLR0917 - fixtures
    hass: HomeAssistant,
    dev_servers: Servers,
    mongodb_database_name: str,
    entity_suffix: str,
    suspend_readings: Callable[[], None],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A suspended table accepts writes and shows none: the WAL check resumes it."""
    monkeypatch.setattr(
        "custom_components.energy_tracker.questdb_tables.WAL_CHECK_INTERVAL", 0
    )
    entry = await _quiet_writer(hass, dev_servers, mongodb_database_name, None)
    forwarder = entry.runtime_data.forwarder
    meter = f"sensor.wal_{entity_suffix}"
    sql = f"select value from energy_readings where entity_id = '{meter}'"
    hass.states.async_set(meter, "0", ENERGY)
    await forwarder.async_flush()
    await wait_for_rows(dev_servers, sql, 1)

    suspend_readings()
    # What the forwarder saw after a kill -9, before it checked: QuestDB takes
    # the write (HTTP 204) and no query sees the row.
    await forwarder.questdb.write(
        f"energy_readings,entity_id={meter},source=live value=1.0 "
        f"{time.time_ns()}\n".encode()
    )
    await asyncio.sleep(1)
    assert len(questdb_rows(dev_servers, sql)) == 1

    for value in (2, 3, 4):
        hass.states.async_set(meter, str(value), ENERGY)
    await forwarder.async_flush()
    assert not _readings_suspended(dev_servers)
    rows = await wait_for_rows(dev_servers, sql, 5)
    assert sorted(row[0] for row in rows) == [0.0, 1.0, 2.0, 3.0, 4.0]
    assert forwarder.stats.questdb_status == STATUS_OK
    resumed = _energy_tracker_records(caplog, "QuestDB had suspended energy_readings")
    assert len(resumed) == 1 and resumed[0].levelno == logging.WARNING
    assert await hass.config_entries.async_unload(entry.entry_id)


@pytest.fixture
async def questdb_refusing_resume(
    dev_servers: Servers,
) -> AsyncIterator[tuple[str, Refusing]]:
    """The real QuestDB behind a proxy that refuses RESUME WAL (a user without the right)."""
    async with questdb_refusing(
        dev_servers,
        lambda query: query.upper().endswith("RESUME WAL"),
        "permission denied",
    ) as (url, refusing):
        yield url, refusing


async def test_table_left_suspended_keeps_readings_in_the_spool(  # noqa: PLR0917 - fixtures
    hass: HomeAssistant,
    dev_servers: Servers,
    mongodb_database_name: str,
    entity_suffix: str,
    suspend_readings: Callable[[], None],
    questdb_refusing_resume: tuple[str, Refusing],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """No success is reported for rows nobody can read: they wait in the spool."""
    monkeypatch.setattr(
        "custom_components.energy_tracker.questdb_tables.WAL_CHECK_INTERVAL", 0
    )
    url, refusing = questdb_refusing_resume
    entry = await _quiet_writer(hass, dev_servers, mongodb_database_name, url)
    forwarder = entry.runtime_data.forwarder
    meter = f"sensor.walstuck_{entity_suffix}"
    sql = f"select value from energy_readings where entity_id = '{meter}'"
    hass.states.async_set(meter, "0", ENERGY)
    await forwarder.async_flush()
    await wait_for_rows(dev_servers, sql, 1)

    suspend_readings()
    for value in (1, 2, 3):
        hass.states.async_set(meter, str(value), ENERGY)
    await forwarder.async_flush()
    assert forwarder.stats.questdb_status == STATUS_DISCONNECTED
    assert forwarder.spool.rows == 3
    refused = _energy_tracker_records(caplog, "refused to resume it: permission denied")
    kept = _energy_tracker_records(caplog, "QuestDB keeps energy_readings suspended")
    assert len(refused) == 1 and refused[0].levelno == logging.ERROR
    assert len(kept) == 1 and kept[0].levelno == logging.ERROR
    await forwarder.async_flush()  # tried again: said once
    assert len(_energy_tracker_records(caplog, "keeps energy_readings")) == 1

    refusing.on = False  # the right granted, or resumed by hand
    await forwarder.async_flush()
    assert forwarder.stats.questdb_status == STATUS_OK
    assert forwarder.spool.rows == 0
    rows = await wait_for_rows(dev_servers, sql, 4)
    assert sorted(row[0] for row in rows) == [0.0, 1.0, 2.0, 3.0]
    back = _energy_tracker_records(caplog, "QuestDB is available again")
    assert len(back) == 1 and back[0].levelno == logging.WARNING
    assert _energy_tracker_records(caplog, "applies what is written to energy_readings")
    assert await hass.config_entries.async_unload(entry.entry_id)
