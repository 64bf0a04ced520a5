"""Removing an entry deletes its spool folder, and only its own."""

from __future__ import annotations

from pathlib import Path

from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant

from tests.servers import Servers

from .conftest import ENERGY, closed_port, make_entry, setup_entry


def _spool_root(hass: HomeAssistant) -> Path:
    return Path(hass.config.path(".storage", "energy_tracker_spool"))


async def test_remove_entry_deletes_its_spool(
    hass: HomeAssistant,
    servers: Servers,
    mongodb_database_name: str,
    entity_suffix: str,
) -> None:
    # QuestDB is unreachable, so readings stay in the spool.
    entry = await setup_entry(
        hass,
        make_entry(
            servers,
            mongodb_database_name,
            questdb_url=f"http://127.0.0.1:{closed_port()}",
        ),
    )
    forwarder = entry.runtime_data.forwarder
    meter = f"sensor.removed_{entity_suffix}"
    for value in range(20):
        hass.states.async_set(meter, str(value), ENERGY)
    await forwarder.async_flush()
    assert forwarder.spool.rows == 20
    await hass.async_add_executor_job(
        forwarder.spool.dead_letter, f"{meter} value=1\n".encode(), "test"
    )
    # Readings still in memory when the entry goes are spooled by the unload first.
    hass.states.async_set(meter, "99", ENERGY)

    directory = _spool_root(hass) / entry.entry_id
    assert any(directory.glob("*-*.ilp"))
    assert (directory / "dead-letter.ilp").is_file()
    # Another entry's spool is not touched.
    other = _spool_root(hass) / "01OTHERENTRY"
    other.mkdir()
    (other / "000000000001-1.ilp").write_bytes(b"sensor.x value=1\n")

    result = await hass.config_entries.async_remove(entry.entry_id)
    await hass.async_block_till_done()

    assert result == {"require_restart": False}
    assert not directory.exists()
    assert (other / "000000000001-1.ilp").read_bytes() == b"sensor.x value=1\n"


async def test_remove_entry_that_never_loaded_deletes_its_spool(
    hass: HomeAssistant,
    servers: Servers,
    mongodb_database_name: str,
    questdb_auth_proxy: str,
) -> None:
    # Credentials rejected at start-up: the entry does not load, but a spool left
    # by an earlier run is still on disk and must go with the entry.
    entry = make_entry(servers, mongodb_database_name, questdb_url=questdb_auth_proxy)
    entry.add_to_hass(hass)
    directory = _spool_root(hass) / entry.entry_id
    directory.mkdir(parents=True)
    (directory / "000000000001-2.ilp").write_bytes(b"a value=1\nb value=2\n")
    (directory / "dead-letter.ilp").write_bytes(b"# reason\nc value=x\n")
    assert not await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.SETUP_ERROR

    await hass.config_entries.async_remove(entry.entry_id)
    await hass.async_block_till_done()

    assert not directory.exists()
    # The last entry's folder gone, the shared parent goes too.
    assert not _spool_root(hass).exists()
