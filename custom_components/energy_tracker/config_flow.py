"""Config, reconfigure, reauth and options flows of Energy Tracker."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from homeassistant.config_entries import (
    ConfigEntry,
    ConfigFlow,
    ConfigFlowResult,
    OptionsFlow,
)
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import selector
import voluptuous as vol

from .const import (
    CONF_EXCLUDE_ENTITIES,
    CONF_EXCLUDE_GLOBS,
    CONF_INCLUDE_ENTITIES,
    CONF_INCLUDE_GLOBS,
    CONF_MONGODB_DATABASE,
    CONF_MONGODB_URI,
    CONF_PANEL_URL,
    CONF_QUESTDB_PASSWORD,
    CONF_QUESTDB_TOKEN,
    CONF_QUESTDB_URL,
    CONF_QUESTDB_USERNAME,
    CONF_SPOOL_MAX_MB,
    CONF_VERIFY_SSL,
    DEFAULT_MONGODB_DATABASE,
    DEFAULT_SPOOL_MAX_MB,
    DOMAIN,
    LOGGER,
)
from .core.questdb_http import validate_questdb_url
from .errors import CannotConnect, InvalidAuth, InvalidDatabaseName, InvalidUri
from .validation import (
    async_validate_mongodb,
    async_validate_questdb,
    is_entity_glob,
    is_http_url,
    unique_id_for,
)

_TEXT = selector.TextSelector()
_PASSWORD = selector.TextSelector(
    selector.TextSelectorConfig(type=selector.TextSelectorType.PASSWORD)
)
_URL = selector.TextSelector(
    selector.TextSelectorConfig(type=selector.TextSelectorType.URL)
)


def _connection_schema(defaults: Mapping[str, Any]) -> vol.Schema:
    """Return the form of both connections, pre-filled with `defaults`."""
    return vol.Schema(
        {
            vol.Required(
                CONF_QUESTDB_URL, default=defaults.get(CONF_QUESTDB_URL, vol.UNDEFINED)
            ): _URL,
            vol.Optional(
                CONF_QUESTDB_USERNAME,
                description={"suggested_value": defaults.get(CONF_QUESTDB_USERNAME)},
            ): _TEXT,
            vol.Optional(CONF_QUESTDB_PASSWORD): _PASSWORD,
            vol.Optional(CONF_QUESTDB_TOKEN): _PASSWORD,
            vol.Required(
                CONF_VERIFY_SSL, default=defaults.get(CONF_VERIFY_SSL, True)
            ): selector.BooleanSelector(),
            vol.Required(
                CONF_MONGODB_URI, default=defaults.get(CONF_MONGODB_URI, vol.UNDEFINED)
            ): _PASSWORD,
            vol.Required(
                CONF_MONGODB_DATABASE,
                default=defaults.get(CONF_MONGODB_DATABASE, DEFAULT_MONGODB_DATABASE),
            ): _TEXT,
        }
    )


_REAUTH_SCHEMA = vol.Schema(
    {
        vol.Optional(CONF_QUESTDB_USERNAME): _TEXT,
        vol.Optional(CONF_QUESTDB_PASSWORD): _PASSWORD,
        vol.Optional(CONF_QUESTDB_TOKEN): _PASSWORD,
        vol.Required(CONF_MONGODB_URI): _PASSWORD,
    }
)


def _clean(user_input: Mapping[str, Any]) -> dict[str, Any]:
    """Drop empty optional fields and trim addresses."""
    data = {k: v for k, v in user_input.items() if v not in (None, "")}
    if CONF_QUESTDB_URL in data:
        data[CONF_QUESTDB_URL] = str(data[CONF_QUESTDB_URL]).strip().rstrip("/")
    if CONF_MONGODB_URI in data:
        data[CONF_MONGODB_URI] = str(data[CONF_MONGODB_URI]).strip()
    return data


async def async_validate(
    hass: HomeAssistant, data: Mapping[str, Any], *, mongodb: bool = True
) -> dict[str, str]:
    """Test both connections; return errors keyed by the form field at fault."""
    errors: dict[str, str] = {}
    try:
        await async_validate_questdb(hass, data)
    except InvalidUri:
        errors[CONF_QUESTDB_URL] = "invalid_uri"
    except InvalidAuth:
        field = (
            CONF_QUESTDB_TOKEN
            if data.get(CONF_QUESTDB_TOKEN)
            else CONF_QUESTDB_PASSWORD
        )
        errors[field] = "invalid_auth"
    except CannotConnect:
        errors[CONF_QUESTDB_URL] = "cannot_connect"
    if not mongodb:
        return errors
    try:
        await async_validate_mongodb(hass, data)
    except InvalidUri:
        errors[CONF_MONGODB_URI] = "invalid_uri"
    except InvalidDatabaseName:
        errors[CONF_MONGODB_DATABASE] = "invalid_database"
    except InvalidAuth:
        errors[CONF_MONGODB_URI] = "invalid_auth"
    except CannotConnect:
        errors[CONF_MONGODB_URI] = "cannot_connect"
    except Exception:  # noqa: BLE001 - shown to the user as "unknown"
        LOGGER.exception("Unexpected error while testing MongoDB")
        errors["base"] = "unknown"
    return errors


class EnergyTrackerConfigFlow(ConfigFlow, domain=DOMAIN):
    """Set up Energy Tracker from the UI."""

    VERSION = 1
    MINOR_VERSION = 1

    @staticmethod
    @callback
    def async_get_options_flow(config_entry: Any) -> EnergyTrackerOptionsFlow:
        """Return the options flow."""
        return EnergyTrackerOptionsFlow()

    async def async_step_user(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Ask for both connections and test them."""
        errors: dict[str, str] = {}
        if user_input is not None:
            data = _clean(user_input)
            errors = await async_validate(self.hass, data)
            if not errors:
                await self.async_set_unique_id(unique_id_for(data))
                self._abort_if_unique_id_configured()
                return self.async_create_entry(
                    title=_title(data), data=data, options=default_options()
                )
        return self.async_show_form(
            step_id="user",
            data_schema=self.add_suggested_values_to_schema(
                _connection_schema(user_input or {}), _without_secrets(user_input)
            ),
            errors=errors,
        )

    async def async_step_reconfigure(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Change addresses or credentials of an existing entry."""
        entry = self._get_reconfigure_entry()
        errors: dict[str, str] = {}
        if user_input is not None:
            data = _keep_secrets(_clean(user_input), entry.data)
            errors = await async_validate(self.hass, data)
            if not errors:
                unique_id = unique_id_for(data)
                for other in self._async_current_entries(include_ignore=False):
                    if (
                        other.entry_id != entry.entry_id
                        and other.unique_id == unique_id
                    ):
                        return self.async_abort(reason="already_configured")
                return self._async_update_and_reload(
                    entry,
                    "reconfigure_successful",
                    unique_id=unique_id,
                    title=_title(data),
                    data=data,
                )
        return self.async_show_form(
            step_id="reconfigure",
            data_schema=_connection_schema(user_input or entry.data),
            errors=errors,
        )

    @callback
    def _async_update_and_reload(
        self, entry: ConfigEntry, reason: str, **changes: Any
    ) -> ConfigFlowResult:
        """Save the entry's new data and reload it, then finish the flow.

        A loaded entry has an update listener, which schedules the reload when
        the data changed (HA >= 2026.11 warns when a flow reloads such an entry
        itself); unchanged data does not call the listener, so the reload is
        scheduled here. An entry that is not loaded (set-up failed) has no
        listener and is reloaded by HA's helper.
        """
        if not entry.update_listeners:
            return self.async_update_reload_and_abort(entry, reason=reason, **changes)
        if not self.hass.config_entries.async_update_entry(entry, **changes):
            self.hass.config_entries.async_schedule_reload(entry.entry_id)
        return self.async_abort(reason=reason)

    async def async_step_reauth(
        self, entry_data: Mapping[str, Any]
    ) -> ConfigFlowResult:
        """Start re-authentication after a database rejected the credentials."""
        return await self.async_step_reauth_confirm()

    async def async_step_reauth_confirm(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Ask for new credentials and test them."""
        entry = self._get_reauth_entry()
        errors: dict[str, str] = {}
        if user_input is not None:
            updates = _clean(user_input)
            data = {
                k: v
                for k, v in entry.data.items()
                if k
                not in (
                    CONF_QUESTDB_USERNAME,
                    CONF_QUESTDB_PASSWORD,
                    CONF_QUESTDB_TOKEN,
                )
            }
            data.update(updates)
            errors = await async_validate(self.hass, data)
            if not errors:
                if unique_id_for(data) != entry.unique_id:
                    errors[CONF_MONGODB_URI] = "different_server"
                else:
                    return self._async_update_and_reload(
                        entry, "reauth_successful", data=data
                    )
        return self.async_show_form(
            step_id="reauth_confirm",
            data_schema=self.add_suggested_values_to_schema(
                _REAUTH_SCHEMA,
                {CONF_QUESTDB_USERNAME: entry.data.get(CONF_QUESTDB_USERNAME)},
            ),
            description_placeholders={"title": entry.title},
            errors=errors,
        )


class EnergyTrackerOptionsFlow(OptionsFlow):
    """Choose which entities are tracked and how large the spool may grow."""

    async def async_step_init(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Show the tracking options."""
        errors: dict[str, str] = {}
        if user_input is not None:
            options: dict[str, Any] = {
                CONF_INCLUDE_ENTITIES: list(user_input.get(CONF_INCLUDE_ENTITIES, [])),
                CONF_EXCLUDE_ENTITIES: list(user_input.get(CONF_EXCLUDE_ENTITIES, [])),
                CONF_INCLUDE_GLOBS: _globs(user_input.get(CONF_INCLUDE_GLOBS)),
                CONF_EXCLUDE_GLOBS: _globs(user_input.get(CONF_EXCLUDE_GLOBS)),
                CONF_SPOOL_MAX_MB: int(
                    user_input.get(CONF_SPOOL_MAX_MB, DEFAULT_SPOOL_MAX_MB)
                ),
                CONF_PANEL_URL: str(user_input.get(CONF_PANEL_URL) or "").strip(),
            }
            both = set(options[CONF_INCLUDE_ENTITIES]) & set(
                options[CONF_EXCLUDE_ENTITIES]
            )
            if both:
                errors[CONF_EXCLUDE_ENTITIES] = "include_exclude_overlap"
            elif any(
                not is_entity_glob(g)
                for g in options[CONF_INCLUDE_GLOBS] + options[CONF_EXCLUDE_GLOBS]
            ):
                errors["base"] = "invalid_glob"
            elif options[CONF_PANEL_URL] and not is_http_url(options[CONF_PANEL_URL]):
                errors[CONF_PANEL_URL] = "invalid_url"
            else:
                return self.async_create_entry(data=options)
        current = {**default_options(), **self.config_entry.options}
        schema = vol.Schema(
            {
                vol.Optional(CONF_INCLUDE_ENTITIES): selector.EntitySelector(
                    selector.EntitySelectorConfig(multiple=True)
                ),
                vol.Optional(CONF_EXCLUDE_ENTITIES): selector.EntitySelector(
                    selector.EntitySelectorConfig(multiple=True)
                ),
                vol.Optional(CONF_INCLUDE_GLOBS): selector.TextSelector(
                    selector.TextSelectorConfig(multiple=True)
                ),
                vol.Optional(CONF_EXCLUDE_GLOBS): selector.TextSelector(
                    selector.TextSelectorConfig(multiple=True)
                ),
                vol.Required(CONF_SPOOL_MAX_MB): selector.NumberSelector(
                    selector.NumberSelectorConfig(
                        min=1,
                        max=100_000,
                        step=1,
                        mode=selector.NumberSelectorMode.BOX,
                        unit_of_measurement="MB",
                    )
                ),
                vol.Optional(CONF_PANEL_URL): _URL,
            }
        )
        return self.async_show_form(
            step_id="init",
            data_schema=self.add_suggested_values_to_schema(
                schema, user_input or current
            ),
            errors=errors,
        )


def _globs(value: Any) -> list[str]:
    """Normalise a list of globs (or a comma separated string) to a clean list."""
    if not value:
        return []
    items = value.split(",") if isinstance(value, str) else list(value)
    return [str(item).strip() for item in items if str(item).strip()]


def default_options() -> dict[str, Any]:
    """Return the options of a new entry."""
    return {
        CONF_INCLUDE_ENTITIES: [],
        CONF_EXCLUDE_ENTITIES: [],
        CONF_INCLUDE_GLOBS: [],
        CONF_EXCLUDE_GLOBS: [],
        CONF_SPOOL_MAX_MB: DEFAULT_SPOOL_MAX_MB,
        CONF_PANEL_URL: "",
    }


def _title(data: Mapping[str, Any]) -> str:
    """Name the entry after the QuestDB host and the MongoDB database."""
    host = validate_questdb_url(data[CONF_QUESTDB_URL]).split("://", 1)[1]
    return f"QuestDB {host} · MongoDB {data[CONF_MONGODB_DATABASE]}"


def _keep_secrets(data: dict[str, Any], current: Mapping[str, Any]) -> dict[str, Any]:
    """Keep the stored password or token when left empty for the same QuestDB user."""
    unchanged = (
        data.get(CONF_QUESTDB_URL) == current.get(CONF_QUESTDB_URL)
        and data.get(CONF_QUESTDB_USERNAME) == current.get(CONF_QUESTDB_USERNAME)
        and CONF_QUESTDB_TOKEN not in data
        and CONF_QUESTDB_PASSWORD not in data
    )
    if unchanged:
        for key in (CONF_QUESTDB_PASSWORD, CONF_QUESTDB_TOKEN):
            if current.get(key):
                data[key] = current[key]
    return data


def _without_secrets(user_input: Mapping[str, Any] | None) -> dict[str, Any]:
    """Return what the form may show again after an error."""
    if not user_input:
        return {}
    return {
        k: v
        for k, v in user_input.items()
        if k not in (CONF_QUESTDB_PASSWORD, CONF_QUESTDB_TOKEN)
    }
