"""Readings from HA's recorder: for the backfill action and the start-up catch-up."""

from __future__ import annotations

from datetime import datetime
from functools import partial
from typing import Any

from homeassistant.core import HomeAssistant, State

from .capture import Readings


async def async_recorded_readings(
    hass: HomeAssistant, start: datetime, end: datetime, entity_ids: list[str]
) -> Readings:
    """Every state the recorder kept for the entities in [start, end), as readings."""
    from homeassistant.components.recorder import history  # noqa: PLC0415
    from homeassistant.helpers.recorder import get_instance  # noqa: PLC0415

    found: dict[str, list[Any]] = await get_instance(hass).async_add_executor_job(
        partial(
            history.get_significant_states,
            hass,
            start,
            end,
            entity_ids,
            include_start_time_state=False,
            significant_changes_only=False,
            minimal_response=False,
            no_attributes=False,
        )
    )
    return Readings.from_states(
        state
        for entity_states in found.values()
        for state in entity_states
        if isinstance(state, State) and start <= state.last_updated < end
    )
