"""The per-event path on HA's loop: the filter, the listener and the buffer they fill."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from homeassistant.core import (
    Event,
    EventStateChangedData,
    HomeAssistant,
    State,
    callback,
)

from .const import MAX_BATCH_ROWS

if TYPE_CHECKING:
    from .health import ForwarderStats
    from .tracking import TrackingRules


@dataclass(slots=True)
class Readings:
    """Readings column by column; attributes only at rows where an entity's changed."""

    # str and float only, one append per column: capturing allocates no object the
    # garbage collector tracks (a tuple or a State kept per reading would).
    entity_ids: list[str] = field(default_factory=list)
    states: list[str] = field(default_factory=list)
    timestamps: list[float] = field(default_factory=list)
    attributes: dict[int, Mapping[str, Any]] = field(default_factory=dict)

    @classmethod
    def from_states(cls, states: Iterable[State]) -> Readings:
        """Take State objects (e.g. from the recorder), each row with its attributes."""
        readings = cls()
        for state in states:
            readings.attributes[len(readings)] = state.attributes
            readings.entity_ids.append(state.entity_id)
            readings.states.append(state.state)
            readings.timestamps.append(state.last_updated_timestamp)
        return readings

    def __len__(self) -> int:
        """Return the number of readings."""
        return len(self.entity_ids)

    def clear(self) -> None:
        """Drop every reading (in the executor: most are the last references)."""
        self.entity_ids.clear()
        self.states.clear()
        self.timestamps.clear()
        self.attributes.clear()

    def split(self, size: int) -> list[Readings]:
        """Return the readings in consecutive parts of at most `size`."""
        if len(self) <= size:
            return [self] if len(self) else []
        return [
            Readings(
                self.entity_ids[start : start + size],
                self.states[start : start + size],
                self.timestamps[start : start + size],
                {
                    row - start: attributes
                    for row, attributes in self.attributes.items()
                    if start <= row < start + size
                },
            )
            for start in range(0, len(self), size)
        ]

    def prepend(self, *earlier: Readings) -> None:
        """Put readings in front of these, in place."""
        moved = sum(len(readings) for readings in earlier)
        if not moved:
            return
        attributes: dict[int, Mapping[str, Any]] = {}
        offset = 0
        for readings in (*earlier, self):
            attributes.update(
                (row + offset, value) for row, value in readings.attributes.items()
            )
            offset += len(readings)
        self.entity_ids[:0] = [e for readings in earlier for e in readings.entity_ids]
        self.states[:0] = [s for readings in earlier for s in readings.states]
        self.timestamps[:0] = [t for readings in earlier for t in readings.timestamps]
        self.attributes.clear()
        self.attributes.update(attributes)


class Capture:
    """Filter state_changed events to tracked entities and buffer their new states."""

    def __init__(
        self,
        hass: HomeAssistant,
        rules: TrackingRules,
        stats: ForwarderStats,
        wake: Callable[[], None],
    ) -> None:
        """Capture into an empty buffer; `wake` is called once a batch is full."""
        self.hass = hass
        self.rules = rules
        self.stats = stats
        self.decisions: dict[str, bool] = {}
        self.buffer = Readings()
        self._wake = wake
        self._last_attributes: dict[str, Mapping[str, Any]] = {}

    @callback
    def event_filter(self, data: EventStateChangedData) -> bool:
        """Return whether the entity is tracked (decided once per entity id)."""
        tracked = self.decisions.get(data["entity_id"])
        if tracked is None:
            return self._decide(data)
        return tracked

    @callback
    def listener(self, event: Event[EventStateChangedData]) -> None:
        """Append the new state to the buffer; wake the writer when a batch is full."""
        state = event.data["new_state"]
        if state is None:
            return
        self.stats.events_received += 1
        buffer = self.buffer
        if self._last_attributes.get(state.entity_id) is not state.attributes:
            self._last_attributes[state.entity_id] = state.attributes
            buffer.attributes[len(buffer.entity_ids)] = state.attributes
        buffer.entity_ids.append(state.entity_id)
        buffer.states.append(state.state)
        buffer.timestamps.append(state.last_updated_timestamp)
        if len(buffer.entity_ids) >= MAX_BATCH_ROWS:
            self._wake()

    @callback
    def take(self) -> Readings:
        """Return what was captured; capture goes on into a new buffer."""
        taken, self.buffer = self.buffer, Readings()
        return taken

    def is_tracked(self, entity_id: str) -> bool:
        """Return whether an entity is tracked now."""
        return self.rules.decide(entity_id, self.hass.states.get(entity_id))

    @callback
    def invalidate_decisions(self) -> None:
        """Forget cached decisions after a rule changed."""
        self.decisions.clear()

    @callback
    def _decide(self, data: EventStateChangedData) -> bool:
        """Decide from the state the event carries; a removal is not cached."""
        # The state machine may already hold a newer state, or none: an event
        # fired during another's dispatch is delivered after it (HA >= 2026.11).
        state = data["new_state"]
        if state is None:
            return False
        tracked = self.rules.decide(state.entity_id, state)
        self.decisions[state.entity_id] = tracked
        return tracked
