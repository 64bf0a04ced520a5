"""Start-up catch-up: what HA accepted before the listener was subscribed, from the recorder."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

from homeassistant.core import HomeAssistant

from .capture import Capture, Readings
from .recorded import async_recorded_readings

# An entry set up this soon after the recorder started is HA starting (not a
# reload): what HA accepted before the listener was subscribed is caught up.
STARTUP_CATCH_UP = timedelta(minutes=10)


async def async_missed_at_start(
    hass: HomeAssistant, capture: Capture, subscribed_at: datetime
) -> Readings:
    """Return the recorder's readings of tracked entities from HA's start to `subscribed_at`."""
    # HA serves its API, and integrations set states, while this entry is still
    # being set up; the recorder starts first and has those states. Rows that
    # were captured live as well are the same keys (DEDUP UPSERT).
    from homeassistant.helpers.recorder import get_instance  # noqa: PLC0415

    recorder = get_instance(hass)
    since = recorder.recorder_runs_manager.recording_start
    if subscribed_at - since > STARTUP_CATCH_UP:
        return Readings()  # a reload while HA runs, not HA starting
    # The recorder commits every commit_interval: wait until it has committed
    # everything from before the subscription.
    await asyncio.sleep(recorder.commit_interval + 1)
    await recorder.async_block_till_done()
    entity_ids = [
        entity_id
        for entity_id in hass.states.async_entity_ids()
        if capture.is_tracked(entity_id)
    ]
    if not entity_ids:
        return Readings()
    return await async_recorded_readings(hass, since, subscribed_at, entity_ids)
