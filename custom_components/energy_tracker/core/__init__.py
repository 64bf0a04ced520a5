"""Energy Tracker's core, free of Home Assistant: what the integration and the companion share.

The storage schema, the unit rules, ILP serialisation, the QuestDB client and the
documents written to MongoDB are defined here once. The integration imports this
package as `.core`; the companion loads the same folder as the package
`energy_tracker_core` (`companion/core.py`), because importing it by its path in the
integration would run the integration's `__init__`, which imports Home Assistant.
Nothing in this package may import `homeassistant`.
"""
