"""The Energy Tracker integration: every energy reading from HA's event bus into QuestDB."""

from __future__ import annotations

import asyncio
from contextlib import suppress
from functools import partial
from pathlib import Path
import shutil

from homeassistant.const import EVENT_HOMEASSISTANT_STOP, Platform
from homeassistant.core import Event, HomeAssistant
from homeassistant.exceptions import (
    ConfigEntryAuthFailed,
    ConfigEntryError,
    ConfigEntryNotReady,
)
from homeassistant.helpers import config_validation as cv, instance_id
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.helpers.typing import ConfigType

from .const import (
    CONF_MONGODB_DATABASE,
    CONF_MONGODB_URI,
    CONF_QUESTDB_PASSWORD,
    CONF_QUESTDB_TOKEN,
    CONF_QUESTDB_URL,
    CONF_QUESTDB_USERNAME,
    CONF_VERIFY_SSL,
    DOMAIN,
    LOGGER,
    SETUP_CHECK_TIMEOUT,
)
from .core.questdb_http import QuestDBAuthError, QuestDBHttp, QuestDBUrlError
from .energy_prefs import async_track_energy_prefs
from .errors import InvalidDatabaseName, InvalidUri
from .forwarder import Forwarder
from .models import EnergyTrackerConfigEntry, EnergyTrackerRuntimeData
from .mongo import create_client, database
from .panel import async_apply_panel, async_remove_entry_panel
from .services import async_setup_services
from .spool import Spool

CONFIG_SCHEMA = cv.config_entry_only_config_schema(DOMAIN)
PLATFORMS: list[Platform] = [Platform.SENSOR]


async def async_setup(hass: HomeAssistant, config: ConfigType) -> bool:
    """Set up the Energy Tracker integration."""
    async_setup_services(hass)
    return True


def spool_directory(hass: HomeAssistant, entry_id: str) -> Path:
    """Return where an entry keeps its spool."""
    return Path(hass.config.path(".storage", "energy_tracker_spool", entry_id))


def _delete_spool(directory: Path) -> int:
    """Delete an entry's spool folder; return the unsent rows it held (blocking)."""
    if not directory.is_dir():
        return 0
    spool = Spool(directory, 0)
    spool.load()
    rows = spool.rows
    shutil.rmtree(directory)
    with suppress(OSError):  # the shared parent, once the last entry's folder is gone
        directory.parent.rmdir()
    return rows


async def async_setup_entry(
    hass: HomeAssistant, entry: EnergyTrackerConfigEntry
) -> bool:
    """Start forwarding for one QuestDB + MongoDB pair.

    A database that is down, or hung, does not stop or delay the set-up: nothing
    here waits on MongoDB, QuestDB's credentials check waits SETUP_CHECK_TIMEOUT at
    most, and the forwarder captures from the moment it starts; readings go to the
    spool and MongoDB updates are retried. Rejected credentials start
    re-authentication.
    """
    data = entry.data
    try:
        questdb = QuestDBHttp(
            async_get_clientsession(hass, verify_ssl=data.get(CONF_VERIFY_SSL, True)),
            data[CONF_QUESTDB_URL],
            username=data.get(CONF_QUESTDB_USERNAME),
            password=data.get(CONF_QUESTDB_PASSWORD),
            token=data.get(CONF_QUESTDB_TOKEN),
        )
        client = await hass.async_add_executor_job(
            partial(create_client, data[CONF_MONGODB_URI])
        )
    except (InvalidUri, QuestDBUrlError) as err:
        raise ConfigEntryNotReady(
            translation_domain=DOMAIN, translation_key="invalid_uri"
        ) from err
    try:
        mongo_db = database(client, data[CONF_MONGODB_DATABASE])
    except InvalidDatabaseName as err:
        await client.close()
        raise ConfigEntryNotReady(
            translation_domain=DOMAIN, translation_key="invalid_uri"
        ) from err
    # Only rejected credentials stop the set-up, so this waits briefly: a QuestDB
    # that is down, or hung, must not delay capturing (the writer keeps trying).
    try:
        async with asyncio.timeout(SETUP_CHECK_TIMEOUT):
            await questdb.execute("select 1")
    except QuestDBAuthError as err:
        await client.close()
        raise ConfigEntryAuthFailed(
            translation_domain=DOMAIN, translation_key="invalid_auth"
        ) from err
    except Exception:  # noqa: BLE001 - down is fine: the spool takes the readings
        LOGGER.debug("QuestDB not reachable at set-up; readings go to the spool")

    spool = Spool(spool_directory(hass, entry.entry_id), 0)
    forwarder = Forwarder(
        hass,
        entry,
        questdb=questdb,
        mongo_client=client,
        mongo_db=mongo_db,
        spool=spool,
        instance_id=await instance_id.async_get(hass),
    )
    forwarder.set_spool_limit(entry.options)
    entry.runtime_data = EnergyTrackerRuntimeData(
        forwarder=forwarder, connections=dict(entry.data)
    )
    await async_track_energy_prefs(hass, forwarder)
    await forwarder.async_start()

    async def _on_stop(event: Event) -> None:
        await forwarder.async_stop()

    entry.async_on_unload(
        hass.bus.async_listen_once(EVENT_HOMEASSISTANT_STOP, _on_stop)
    )
    entry.async_on_unload(entry.add_update_listener(_async_options_updated))
    await hass.config_entries.async_forward_entry_setups(entry, PLATFORMS)
    async_apply_panel(hass, entry.entry_id, entry.options)
    return True


async def _async_options_updated(
    hass: HomeAssistant, entry: EnergyTrackerConfigEntry
) -> None:
    """Apply new options without a reload, so no reading is missed.

    New connections or credentials (reconfigure, reauth) reload the entry: this
    listener is where HA expects an entry with one to schedule that.
    """
    if entry.data != entry.runtime_data.connections:
        hass.config_entries.async_schedule_reload(entry.entry_id)
        return
    forwarder = entry.runtime_data.forwarder
    forwarder.rules.set_options(entry.options)
    forwarder.set_spool_limit(entry.options)
    forwarder.invalidate_decisions()
    async_apply_panel(hass, entry.entry_id, entry.options)


async def async_remove_entry(
    hass: HomeAssistant, entry: EnergyTrackerConfigEntry
) -> None:
    """Delete the entry's spool folder (unsent readings and dead letters).

    Called after the entry is unloaded, so its forwarder has stopped writing there.
    A new entry gets a new id and would never replay this folder.
    """
    directory = spool_directory(hass, entry.entry_id)
    try:
        rows = await hass.async_add_executor_job(_delete_spool, directory)
    except OSError as err:
        LOGGER.error("Could not delete the spool folder %s: %s", directory, err)
        return
    if rows:
        LOGGER.warning(
            "Deleted the spool of %s with %d readings never written to QuestDB",
            entry.title,
            rows,
        )


async def async_unload_entry(
    hass: HomeAssistant, entry: EnergyTrackerConfigEntry
) -> bool:
    """Stop forwarding, write or spool what is buffered, close the connections.

    When the sensors do not unload, nothing is stopped (the forwarder keeps
    capturing) and the failure is raised, which every supported HA reports the
    same way: HA 2026.2 takes only True from here, and HA >= 2026.11 turns a
    False into an error with a traceback.
    """
    if not await hass.config_entries.async_unload_platforms(entry, PLATFORMS):
        raise ConfigEntryError(
            translation_domain=DOMAIN, translation_key="unload_failed"
        )
    async_remove_entry_panel(hass, entry.entry_id)
    forwarder = entry.runtime_data.forwarder
    await forwarder.async_stop()
    forwarder.health.async_remove_issues()
    return True
