"""Services: energy_tracker.backfill (recorder → QuestDB) and energy_tracker.flush."""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Mapping
from datetime import datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING, Any, Literal, cast

from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import (
    HomeAssistant,
    ServiceCall,
    ServiceResponse,
    SupportsResponse,
    callback,
)
from homeassistant.exceptions import (
    HomeAssistantError,
    ServiceValidationError,
    Unauthorized,
    UnknownUser,
)
from homeassistant.helpers import config_validation as cv
from homeassistant.util import dt as dt_util
import voluptuous as vol

from .const import (
    ATTR_CONFIG_ENTRY_ID,
    ATTR_END,
    ATTR_ENTITY_IDS,
    ATTR_START,
    DOMAIN,
    MAX_BATCH_ROWS,
    SERVICE_BACKFILL,
    SERVICE_FLUSH,
)
from .core.ilp import recorder_statistics, serialise_readings, serialise_statistics
from .core.questdb_http import QuestDBError, QuestDBHttp, QuestDBRefusedError
from .core.schema import SOURCE_BACKFILL, ensure_questdb_schema
from .recorded import async_recorded_readings

if TYPE_CHECKING:
    from .forwarder import Forwarder
    from .models import EnergyTrackerConfigEntry

BACKFILL_CHUNK = timedelta(hours=6)
"""Window read from the recorder at a time, so memory stays bounded."""
COPIED_STATISTICS_PERIODS: tuple[Literal["5minute", "hour"], ...] = ("5minute", "hour")
"""The periods of HA's statistics the backfill copies (days and months are derived)."""

BACKFILL_SCHEMA = vol.Schema(
    {
        vol.Optional(ATTR_CONFIG_ENTRY_ID): cv.string,
        vol.Optional(ATTR_ENTITY_IDS): cv.entity_ids,
        vol.Required(ATTR_START): cv.datetime,
        vol.Optional(ATTR_END): cv.datetime,
    }
)
FLUSH_SCHEMA = vol.Schema({vol.Optional(ATTR_CONFIG_ENTRY_ID): cv.string})


type _Handler = Callable[
    [HomeAssistant, ServiceCall], Coroutine[Any, Any, ServiceResponse]
]


def _admin(
    hass: HomeAssistant, handler: _Handler
) -> Callable[[ServiceCall], Coroutine[Any, Any, ServiceResponse]]:
    """Wrap a handler so only administrators may call it."""

    async def _checked(call: ServiceCall) -> ServiceResponse:
        if call.context.user_id:
            user = await hass.auth.async_get_user(call.context.user_id)
            if user is None:
                raise UnknownUser(context=call.context)
            if not user.is_admin:
                raise Unauthorized(context=call.context)
        return await handler(hass, call)

    return _checked


@callback
def async_setup_services(hass: HomeAssistant) -> None:
    """Register the services (admin only, like async_register_admin_service)."""
    hass.services.async_register(
        DOMAIN,
        SERVICE_BACKFILL,
        _admin(hass, _async_backfill),
        schema=BACKFILL_SCHEMA,
        supports_response=SupportsResponse.OPTIONAL,
    )
    hass.services.async_register(
        DOMAIN,
        SERVICE_FLUSH,
        _admin(hass, _async_flush),
        schema=FLUSH_SCHEMA,
        supports_response=SupportsResponse.OPTIONAL,
    )


def _entry(hass: HomeAssistant, call: ServiceCall) -> EnergyTrackerConfigEntry:
    """Return the loaded entry the call is for."""
    entry_id = call.data.get(ATTR_CONFIG_ENTRY_ID)
    if entry_id is not None:
        entry = hass.config_entries.async_get_entry(entry_id)
        if entry is None or entry.domain != DOMAIN:
            raise ServiceValidationError(
                translation_domain=DOMAIN,
                translation_key="entry_not_found",
                translation_placeholders={"entry_id": entry_id},
            )
        if entry.state is not ConfigEntryState.LOADED:
            raise ServiceValidationError(
                translation_domain=DOMAIN,
                translation_key="entry_not_loaded",
                translation_placeholders={"entry_id": entry_id},
            )
        return entry
    entries = hass.config_entries.async_loaded_entries(DOMAIN)
    if len(entries) != 1:
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="entry_required",
        )
    return entries[0]


async def _async_flush(hass: HomeAssistant, call: ServiceCall) -> ServiceResponse:
    """Write the buffer and the spool now."""
    forwarder = _entry(hass, call).runtime_data.forwarder
    result = await forwarder.async_flush()
    return {**result, "rows_forwarded_total": forwarder.stats.rows_forwarded}


def _entity_ids(
    hass: HomeAssistant, forwarder: Forwarder, requested: list[str] | None
) -> list[str]:
    """Return the entities to backfill: those named (all known) or every tracked one."""
    if requested:
        unknown = [e for e in requested if hass.states.get(e) is None]
        if unknown:
            raise ServiceValidationError(
                translation_domain=DOMAIN,
                translation_key="unknown_entity",
                translation_placeholders={"entity_ids": ", ".join(unknown)},
            )
        return list(dict.fromkeys(requested))
    return sorted(
        state.entity_id
        for state in hass.states.async_all()
        if forwarder.is_tracked(state.entity_id)
    )


def _utc(value: datetime) -> datetime:
    """Read a naive datetime in HA's time zone; return UTC."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt_util.get_default_time_zone())
    return dt_util.as_utc(value)


async def _async_backfill(hass: HomeAssistant, call: ServiceCall) -> ServiceResponse:
    """Copy the recorder's states and statistics of a window into QuestDB."""
    entry = _entry(hass, call)
    forwarder = entry.runtime_data.forwarder
    if "recorder" not in hass.config.components:
        raise ServiceValidationError(
            translation_domain=DOMAIN, translation_key="recorder_not_loaded"
        )
    from homeassistant.helpers.recorder import get_instance  # noqa: PLC0415

    now = dt_util.utcnow()
    start = _utc(call.data[ATTR_START])
    end = _utc(call.data.get(ATTR_END) or now)
    if end <= start:
        raise ServiceValidationError(
            translation_domain=DOMAIN, translation_key="end_before_start"
        )
    end = min(end, now)
    recorder = get_instance(hass)
    oldest = now - timedelta(days=recorder.keep_days)
    if start < oldest:
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="window_too_long",
            translation_placeholders={"days": str(recorder.keep_days)},
        )
    entity_ids = _entity_ids(hass, forwarder, call.data.get(ATTR_ENTITY_IDS))
    if not entity_ids:
        return {"entities": 0, "readings": 0, "statistics": 0}

    questdb = forwarder.questdb
    try:
        await ensure_questdb_schema(questdb.execute)
    except QuestDBError as err:
        raise HomeAssistantError(
            translation_domain=DOMAIN, translation_key="questdb_down"
        ) from err

    try:
        readings = await _backfill_states(hass, questdb, start, end, entity_ids)
        stats_rows = await _backfill_statistics(hass, questdb, start, end, entity_ids)
    except QuestDBRefusedError as err:
        raise HomeAssistantError(
            translation_domain=DOMAIN,
            translation_key="rows_rejected",
            translation_placeholders={"message": err.message[:300]},
        ) from err
    except QuestDBError as err:
        raise HomeAssistantError(
            translation_domain=DOMAIN,
            translation_key="questdb_down",
        ) from err

    response: dict[str, Any] = {
        "entities": len(entity_ids),
        "readings": readings,
        "statistics": stats_rows,
        "start": start.isoformat(),
        "end": end.isoformat(),
    }
    await forwarder.mongo.async_log_sync(
        "backfill", (start, end), entity_ids, response, started_at=now
    )
    return response


async def _backfill_states(
    hass: HomeAssistant,
    questdb: QuestDBHttp,
    start: datetime,
    end: datetime,
    entity_ids: list[str],
) -> int:
    """Copy the recorder's states chunk by chunk; return the rows written."""
    readings = 0
    chunk_start = start
    while chunk_start < end:
        chunk_end = min(chunk_start + BACKFILL_CHUNK, end)
        batch = await hass.async_add_executor_job(
            serialise_readings,
            await async_recorded_readings(hass, chunk_start, chunk_end, entity_ids),
            SOURCE_BACKFILL,
            MAX_BATCH_ROWS,
        )
        for payload, rows in batch.payloads:
            await questdb.write(payload)
            readings += rows
        chunk_start = chunk_end
    return readings


async def _backfill_statistics(
    hass: HomeAssistant,
    questdb: QuestDBHttp,
    start: datetime,
    end: datetime,
    entity_ids: list[str],
) -> int:
    """Copy the recorder's 5-minute and hourly statistics; return the rows written."""
    from homeassistant.components.recorder import statistics  # noqa: PLC0415
    from homeassistant.helpers.recorder import get_instance  # noqa: PLC0415

    recorder = get_instance(hass)
    metadata = await recorder.async_add_executor_job(
        partial(statistics.get_metadata, hass, statistic_ids=set(entity_ids))
    )
    written = 0
    for period in COPIED_STATISTICS_PERIODS:
        result = await recorder.async_add_executor_job(
            statistics.statistics_during_period,
            hass,
            start,
            end,
            set(entity_ids),
            period,
            None,
            {"state", "sum", "mean", "min", "max", "last_reset"},
        )
        for statistic_id, rows_of_id in result.items():
            meta = metadata.get(statistic_id)
            unit = meta[1]["unit_of_measurement"] if meta else None
            current = hass.states.get(statistic_id)
            device_class = current.attributes.get("device_class") if current else None
            payload, count = await hass.async_add_executor_job(
                _serialise_recorder_statistics,
                statistic_id,
                period,
                cast("list[Mapping[str, Any]]", rows_of_id),
                device_class,
                unit,
            )
            if count:
                await questdb.write(payload)
                written += count
    return written


def _serialise_recorder_statistics(
    entity_id: str,
    period: str,
    rows: list[Mapping[str, Any]],
    device_class: str | None,
    unit: str | None,
) -> tuple[bytes, int]:
    """Serialise the recorder's statistics rows of one entity (in the executor)."""
    return serialise_statistics(
        recorder_statistics(entity_id, period, rows, device_class, unit)
    )
