"""What hassfest of Home Assistant 2026.11 checks for a custom integration, and more.

hassfest (`script/hassfest` in home-assistant/core) does not ship in HA's wheel, so
its rules are restated here in our own code, from these files of home-assistant/core:

- manifest.py: the schema of a custom integration's manifest, the required
  `version` and `iot_class`, the key order (domain, name, then alphabetical).
  `categories` and `connectivity` are newer than the manifest.py read; their values
  are those of HA 2026.11.0 (homeassistant/generated/integration_categories.json
  and integration_connectivity.json of its wheel), and their form is that of every
  core manifest of 2026.11.0 (1 to 3 categories, connectivity sorted).
- services.py: the schema of services.yaml for a custom integration.
- translations.py: the schema of strings.json and translations/en.json.
- icons.py: the schema of icons.json (the `services` and `range` forms are those of
  HA 2026.11.0's own icons.json files).
- dependencies.py, config_schema.py, requirements.py: imported components must be
  dependencies, async_setup needs a CONFIG_SCHEMA, requirements without spaces.
- quality_scale.py: ALL_RULES, which hassfest checks only for core integrations;
  ours lists exactly them, as each of HA 2026.11.0's 429 quality_scale.yaml does.

Where hassfest checks only core integrations (a service's name and icon) or not at
all (keys used by the code exist in strings.json and nothing there is stale, the
form fields and their labels agree), these tests check ours as well.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
import importlib
import json
from pathlib import Path
import re
import string
import struct
from typing import Any

from awesomeversion import (
    AwesomeVersion,
    AwesomeVersionException,
    AwesomeVersionStrategy,
)
import homeassistant
from homeassistant.const import Platform
from homeassistant.helpers import config_validation as cv, selector
from packaging.requirements import InvalidRequirement, Requirement
import voluptuous as vol
import yaml

from custom_components.energy_tracker import const

INTEGRATION = (
    Path(__file__).resolve().parent.parent / "custom_components" / "energy_tracker"
)
PACKAGE = "custom_components.energy_tracker"
HA_COMPONENTS = Path(homeassistant.__file__).parent / "components"

# --- Reference data of HA 2026.11 ---------------------------------------------------

# quality_scale.py ALL_RULES, by tier. 2026.11 added docs-conditions and
# docs-triggers to Bronze (HA 2026.2.3's 212 files list the other 52).
QUALITY_SCALE_RULES: dict[str, tuple[str, ...]] = {
    "bronze": (
        "action-setup",
        "appropriate-polling",
        "brands",
        "common-modules",
        "config-flow",
        "config-flow-test-coverage",
        "dependency-transparency",
        "docs-actions",
        "docs-conditions",
        "docs-high-level-description",
        "docs-installation-instructions",
        "docs-removal-instructions",
        "docs-triggers",
        "entity-event-setup",
        "entity-unique-id",
        "has-entity-name",
        "runtime-data",
        "test-before-configure",
        "test-before-setup",
        "unique-config-entry",
    ),
    "silver": (
        "action-exceptions",
        "config-entry-unloading",
        "docs-configuration-parameters",
        "docs-installation-parameters",
        "entity-unavailable",
        "integration-owner",
        "log-when-unavailable",
        "parallel-updates",
        "reauthentication-flow",
        "test-coverage",
    ),
    "gold": (
        "devices",
        "diagnostics",
        "discovery",
        "discovery-update-info",
        "docs-data-update",
        "docs-examples",
        "docs-known-limitations",
        "docs-supported-devices",
        "docs-supported-functions",
        "docs-troubleshooting",
        "docs-use-cases",
        "dynamic-devices",
        "entity-category",
        "entity-device-class",
        "entity-disabled-by-default",
        "entity-translations",
        "exception-translations",
        "icon-translations",
        "reconfiguration-flow",
        "repair-issues",
        "stale-devices",
    ),
    "platinum": ("async-dependency", "inject-websession", "strict-typing"),
}

# homeassistant/generated/integration_categories.json of 2026.11.0: category and
# its subcategories; a manifest names "category" or "category.subcategory".
CATEGORIES: dict[str, tuple[str, ...]] = {
    "ai_voice": ("ai_models", "image_recognition", "speech", "voice_assistants"),
    "appliances_cleaning": ("cleaning", "cooking", "laundry"),
    "blinds_curtains": (),
    "buttons_remotes": (),
    "climate": (
        "air_purifiers_humidifiers",
        "fans_ventilation",
        "heat_pumps_air_conditioning",
        "thermostats_heating",
        "water_heaters",
    ),
    "computers_network": (
        "cloud_developer_tools",
        "monitoring",
        "nas_servers",
        "printers",
        "routers_network",
    ),
    "diy_makers": ("boards_hardware", "web_data_connectors"),
    "energy": (
        "backup_power",
        "energy_prices",
        "ev_charging",
        "meters_monitoring",
        "solar_batteries",
    ),
    "finance": (),
    "garden_plants": (),
    "health_wellbeing": (),
    "helpers": ("calculate_value", "store_value"),
    "hubs_protocols": ("building_automation", "smart_home_hubs", "wireless_protocols"),
    "lighting": ("bulbs_lamps", "led_strips_controllers", "lighting_systems"),
    "local_services": (),
    "media_entertainment": (
        "gaming",
        "music_radio_services",
        "speakers_audio",
        "tv_streaming",
    ),
    "messaging_notifications": ("chat_apps", "email_sms_calls", "push_notifications"),
    "news_social_media": (),
    "other_ecosystems": (),
    "pets": (),
    "plugs_switches": (),
    "presence_location": ("network_presence", "phones_companion_apps", "trackers"),
    "productivity_information": (
        "calendars_todos",
        "documents_photos",
        "shopping_groceries",
    ),
    "security_safety": (
        "alarm_systems",
        "cameras",
        "doorbells_intercoms",
        "locks_access",
        "smoke_co_alarms",
    ),
    "sensors": (
        "air_quality",
        "door_window",
        "motion_presence",
        "temperature_humidity",
    ),
    "vehicles_transport": ("bikes_scooters", "cars_evs", "flights", "public_transport"),
    "water": ("meters_leak_detection", "pools_spas", "water_treatment"),
    "weather_alerts": ("air_quality_pollen", "forecasts", "public_warnings"),
}
# homeassistant/generated/integration_connectivity.json of 2026.11.0.
CONNECTIVITY = frozenset(
    {
        "bluetooth",
        "cloud",
        "dali",
        "dect",
        "enocean",
        "esphome",
        "homekit",
        "host",
        "infrared",
        "insteon",
        "knx",
        "lorawan",
        "matter",
        "modbus",
        "mqtt",
        "network",
        "onewire",
        "rf",
        "serial",
        "x10",
        "zigbee",
        "zwave",
    }
)
IOT_CLASSES = (
    "assumed_state",
    "calculated",
    "cloud_polling",
    "cloud_push",
    "local_polling",
    "local_push",
)
# Custom integrations cannot be "virtual" (that schema is core's only).
INTEGRATION_TYPES = (
    "device",
    "entity",
    "hardware",
    "helper",
    "hub",
    "service",
    "system",
)
QUALITY_SCALES = ("bronze", "gold", "internal", "legacy", "platinum", "silver")

# --- Loading -------------------------------------------------------------------------


def _json(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((INTEGRATION / name).read_text(encoding="utf-8"))
    return data


def _yaml(name: str) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(
        (INTEGRATION / name).read_text(encoding="utf-8")
    )
    return data


def _modules() -> Iterator[tuple[Path, ast.Module]]:
    for path in sorted(INTEGRATION.glob("**/*.py")):
        yield path, ast.parse(path.read_text(encoding="utf-8"))


def _resolve(node: ast.expr | None) -> str | None:
    """Return the string a literal or a constant of const.py stands for."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.Name):
        value = getattr(const, node.id, None)
        return value if isinstance(value, str) else None
    return None


def _resolve_local(node: ast.expr, function: ast.AST) -> set[str]:
    """The strings an expression may stand for, through a local variable."""
    if (value := _resolve(node)) is not None:
        return {value}
    if not isinstance(node, ast.Name):
        return set()
    return {
        value
        for assign in ast.walk(function)
        if isinstance(assign, ast.Assign)
        and any(isinstance(t, ast.Name) and t.id == node.id for t in assign.targets)
        for sub in ast.walk(assign.value)
        if isinstance(sub, ast.expr) and (value := _resolve(sub)) is not None
    }


def _keyword(call: ast.Call, name: str) -> ast.expr | None:
    return next((kw.value for kw in call.keywords if kw.arg == name), None)


def _func_name(call: ast.Call) -> str:
    func = call.func
    if isinstance(func, ast.Attribute):
        return func.attr
    return func.id if isinstance(func, ast.Name) else ""


def _dict_keys(node: ast.expr | None) -> set[str] | None:
    """Keys of a dict literal; empty when there is none, None when not literal."""
    if node is None:
        return set()
    if not isinstance(node, ast.Dict):
        return None
    keys = [_resolve(key) for key in node.keys]  # a None key is a ** unpacking
    return None if None in keys else {key for key in keys if key is not None}


def _placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def _strings_values(tree: Any, path: str = "") -> Iterator[tuple[str, str]]:
    if isinstance(tree, dict):
        for key, value in tree.items():
            yield from _strings_values(value, f"{path}.{key}" if path else key)
    else:
        yield path, tree


# --- Validators (restated from hassfest) ---------------------------------------------

RE_TRANSLATION_KEY = re.compile(r"^(?!.+[_-]{2})(?![_-])[a-z0-9-_]+(?<![_-])$")
RE_REFERENCE = re.compile(r"\[%key:(.+)%\]")
RE_COMBINED_REFERENCE = re.compile(r"(.+\[%)|(%\].+)")
RE_PLACEHOLDER_IN_SINGLE_QUOTES = re.compile(r"'{\w+}'")
RE_URL = re.compile(
    r"(((ftp|ftps|scp|http|https|mqtt|mqtts|socket|socks5):\/\/|www\.)"
    r"[a-z0-9]+([\-\.]{1}[a-z0-9]+)*\.[a-z]{2,5}(:[0-9]{1,5})?(\/.*)?)",
    re.IGNORECASE,
)


def translation_key(value: Any) -> str:
    if not isinstance(value, str) or RE_TRANSLATION_KEY.match(value) is None:
        raise vol.Invalid(
            f"invalid translation key {value!r}: [a-z0-9-_]+, no _ or - at the ends"
        )
    return value


def _text(*, placeholders: bool = True) -> Callable[[Any], str]:
    """A translated string: no HTML, URL, reference, padding or bad placeholder."""

    def validate(value: Any) -> str:
        text = cv.string_with_no_html(value)
        if RE_PLACEHOLDER_IN_SINGLE_QUOTES.search(text):
            raise vol.Invalid("placeholders must not be in single quotes")
        try:
            names = _placeholders(text)
        except ValueError as err:
            raise vol.Invalid(f"bad placeholder: {err}") from err
        if names and not placeholders:
            raise vol.Invalid("placeholders are not supported here")
        if not all(name.isidentifier() for name in names):
            raise vol.Invalid("placeholders must be identifiers")
        if RE_COMBINED_REFERENCE.search(text):
            raise vol.Invalid("combined translations are not allowed")
        if text != text.strip():
            raise vol.Invalid("leading or trailing spaces")
        if RE_URL.search(text):
            raise vol.Invalid("URLs belong in description placeholders")
        return text

    return validate


TEXT = _text()
PLAIN_TEXT = _text(placeholders=False)


def _keys(validator: Any, key: Callable[[Any], str] = translation_key) -> Any:
    return cv.schema_with_slug_keys(validator, slug_validator=key)


def _data_description_in_data(value: dict[str, Any]) -> dict[str, Any]:
    for step_id, step in value["step"].items():
        for key in step.get("data_description", {}):
            if key not in step.get("data", {}):
                raise vol.Invalid(
                    f"step {step_id}: data_description {key} is not in data"
                )
    return value


def _data_entry_schema() -> vol.All:
    fields = {str: TEXT}
    step = {
        vol.Optional("title"): TEXT,
        vol.Optional("description"): TEXT,
        vol.Optional("data"): fields,
        vol.Optional("data_description"): fields,
        vol.Optional("menu_options"): fields,
        vol.Optional("menu_option_descriptions"): fields,
        vol.Optional("submit"): TEXT,
        vol.Optional("sections"): {
            str: {
                vol.Optional("data"): fields,
                vol.Optional("data_description"): fields,
                vol.Optional("description"): TEXT,
                vol.Optional("name"): TEXT,
            }
        },
    }
    # A flow "title" is gone since HA 0.109 (only a warning for custom integrations).
    return vol.All(
        vol.Schema(
            {
                vol.Optional("flow_title"): TEXT,
                vol.Required("step"): {str: step},
                vol.Optional("error"): fields,
                vol.Optional("abort"): fields,
                vol.Optional("progress"): fields,
                vol.Optional("create_entry"): fields,
                vol.Optional("initiate_flow"): {vol.Required("user"): TEXT},
            }
        ),
        _data_description_in_data,
    )


def _service_strings_schema() -> Any:
    return _keys(
        {
            vol.Required("name"): TEXT,
            vol.Required("description"): TEXT,
            vol.Optional("fields"): _keys(
                {
                    vol.Required("name"): str,
                    vol.Required("description"): TEXT,
                    vol.Optional("example"): TEXT,
                }
            ),
            vol.Optional("sections"): _keys(
                {vol.Required("name"): str, vol.Optional("description"): TEXT}
            ),
        }
    )


STRINGS_SCHEMA = vol.Schema(
    {
        vol.Optional("title"): TEXT,
        vol.Optional("config"): _data_entry_schema(),
        vol.Optional("options"): _data_entry_schema(),
        vol.Optional("selector"): _keys(
            {
                vol.Optional("options"): _keys(TEXT),
                vol.Optional("choices"): _keys(TEXT),
                vol.Optional("unit_of_measurement"): _keys(TEXT),
                vol.Optional("fields"): _keys(
                    {vol.Required("name"): str, vol.Required("description"): TEXT}
                ),
            },
            key=vol.Any("_", cv.slug),
        ),
        vol.Optional("issues"): {
            str: vol.All(
                cv.has_at_least_one_key("description", "fix_flow"),
                vol.Schema(
                    {
                        vol.Required("title"): TEXT,
                        # In HA 2026.11.0's own strings; newer than translations.py read.
                        vol.Optional("short_title"): TEXT,
                        vol.Exclusive("description", "fixable"): TEXT,
                        vol.Exclusive("fix_flow", "fixable"): _data_entry_schema(),
                    }
                ),
            )
        },
        vol.Optional("device"): _keys({vol.Optional("name"): TEXT}),
        vol.Optional("entity"): _keys(
            _keys(
                {
                    vol.Optional("name"): TEXT,
                    vol.Optional("state"): _keys(PLAIN_TEXT),
                    vol.Optional("state_attributes"): _keys(
                        {
                            vol.Optional("name"): PLAIN_TEXT,
                            vol.Optional("state"): _keys(PLAIN_TEXT),
                        }
                    ),
                    vol.Optional("unit_of_measurement"): PLAIN_TEXT,
                }
            ),
            key=cv.slug,
        ),
        # hassfest has "message" optional; an exception without one shows nothing.
        vol.Optional("exceptions"): _keys({vol.Required("message"): TEXT}, key=cv.slug),
        vol.Optional("services"): _service_strings_schema(),
    }
)


def icon(value: Any) -> str:
    text = cv.string_with_no_html(value)
    if not text.startswith("mdi:"):
        raise vol.Invalid("icons are Material Design Icons, 'mdi:...'")
    return text


def _numeric_key(value: Any) -> str:
    float(value)
    return str(value)


def _states_differ_from_default(value: dict[str, Any]) -> dict[str, Any]:
    for key, section in value.items():
        default = section.get("default")
        for state, state_icon in section.get("state", {}).items():
            if state_icon == default:
                raise vol.Invalid(f"{key}.{state}: same icon as the default, drop it")
    return value


_FLOW_ICONS = {"step": {str: {"section": {str: icon}}}}
ICONS_SCHEMA = vol.Schema(
    {
        vol.Optional("config"): _FLOW_ICONS,
        vol.Optional("options"): _FLOW_ICONS,
        vol.Optional("issues"): {str: {"fix_flow": _FLOW_ICONS}},
        vol.Optional("services"): _keys(
            {vol.Required("service"): icon, vol.Optional("sections"): _keys(icon)},
            key=cv.slug,
        ),
        vol.Optional("entity"): _keys(
            vol.All(
                _keys(
                    {
                        vol.Optional("default"): icon,
                        vol.Optional("state"): _keys(icon),
                        vol.Optional("state_attributes"): vol.All(
                            _keys(
                                {
                                    vol.Optional("default"): icon,
                                    vol.Optional("state"): _keys(icon),
                                }
                            ),
                            _states_differ_from_default,
                        ),
                        vol.Optional("range"): {_numeric_key: icon},
                    }
                ),
                _states_differ_from_default,
            ),
            key=cv.slug,
        ),
    }
)


def _exists(value: Any) -> Any:
    if value is None:
        raise vol.Invalid("value cannot be None")
    return value


_FIELD = {
    vol.Optional("example"): _exists,
    vol.Optional("default"): _exists,
    vol.Optional("required"): bool,
    vol.Optional("advanced"): bool,
    vol.Optional("selector"): selector.validate_selector,
    # Custom integrations may describe here instead of in strings.json.
    vol.Optional("name"): str,
    vol.Optional("description"): str,
}
_TARGETED_FIELD = {**_FIELD, vol.Optional("filter"): dict}


def _unique_fields(fields: dict[str, Any]) -> dict[str, Any]:
    seen: set[str] = set()
    for key, value in fields.items():
        names = list(value["fields"]) if value and "fields" in value else [key]
        if duplicate := seen & set(names):
            raise vol.Invalid(f"field {duplicate} used twice")
        seen.update(names)
    return fields


def _service_schema(*, targeted: bool) -> vol.Schema:
    field_schema = vol.Schema(_TARGETED_FIELD if targeted else _FIELD)
    section = vol.Schema(
        {
            vol.Optional("collapsed"): bool,
            vol.Required("fields"): {str: field_schema},
            vol.Optional("name"): str,
            vol.Optional("description"): str,
        }
    )
    schema: dict[Any, Any] = {
        vol.Optional("fields"): vol.All(
            {str: vol.Any(field_schema, section)}, _unique_fields
        ),
        vol.Optional("name"): str,
        vol.Optional("description"): str,
    }
    if targeted:
        schema[vol.Required("target")] = vol.Any(
            selector.TargetSelector.CONFIG_SCHEMA, None
        )
    return vol.Schema(schema)


SERVICES_SCHEMA = vol.Schema(
    {
        cv.slug: vol.Any(
            _service_schema(targeted=True), _service_schema(targeted=False), None
        )
    }
)


def _version(value: Any) -> str:
    try:
        AwesomeVersion(
            value,
            ensure_strategy=[
                AwesomeVersionStrategy.CALVER,
                AwesomeVersionStrategy.SEMVER,
                AwesomeVersionStrategy.SIMPLEVER,
                AwesomeVersionStrategy.BUILDVER,
                AwesomeVersionStrategy.PEP440,
            ],
        )
    except AwesomeVersionException as err:
        raise vol.Invalid(f"{value!r} is not a valid version") from err
    return str(value)


def _documentation(value: Any) -> str:
    url = str(vol.Url()(value))
    if not url.startswith("https://"):
        raise vol.Invalid("documentation must be https")
    if url.startswith("https://www.home-assistant.io/") and not url.startswith(
        "https://www.home-assistant.io/integrations/"
    ):
        raise vol.Invalid("home-assistant.io documentation is under /integrations/")
    return url


def _requirement(value: Any) -> str:
    if not isinstance(value, str) or " " in value:
        raise vol.Invalid(f"requirement {value!r} contains a space")
    try:
        Requirement(value)
    except InvalidRequirement as err:
        raise vol.Invalid(f"requirement {value!r}: {err}") from err
    return value


def _categories(value: Any) -> list[str]:
    if not isinstance(value, list) or not 1 <= len(value) <= 3:
        raise vol.Invalid("categories: 1 to 3, the primary one first")
    valid = {*CATEGORIES} | {f"{c}.{s}" for c, subs in CATEGORIES.items() for s in subs}
    if unknown := [c for c in value if c not in valid]:
        raise vol.Invalid(f"unknown categories {unknown}")
    if len(set(value)) != len(value):
        raise vol.Invalid("categories repeat")
    if both := [c for c in value if "." in c and c.split(".")[0] in value]:
        raise vol.Invalid(f"{both} repeat their parent category")
    return value


def _connectivity(value: Any) -> list[str]:
    if not isinstance(value, list) or not value:
        raise vol.Invalid("connectivity: a non-empty list")
    if unknown := set(value) - CONNECTIVITY:
        raise vol.Invalid(f"unknown connectivity {sorted(unknown)}")
    if value != sorted(set(value)):
        raise vol.Invalid("connectivity: sorted, without repeats")
    return value


MANIFEST_SCHEMA = vol.Schema(
    {
        vol.Required("domain"): str,
        vol.Required("name"): str,
        vol.Optional("integration_type"): vol.In(INTEGRATION_TYPES),
        vol.Optional("config_flow"): bool,
        vol.Optional("categories"): _categories,
        vol.Optional("connectivity"): _connectivity,
        # Discovery: unused here, checked only for their shape.
        vol.Optional("mqtt"): [str],
        vol.Optional("zeroconf"): list,
        vol.Optional("ssdp"): list,
        vol.Optional("bluetooth"): list,
        vol.Optional("homekit"): dict,
        vol.Optional("dhcp"): list,
        vol.Optional("usb"): list,
        vol.Optional("lorawan"): list,
        vol.Required("documentation"): _documentation,
        vol.Optional("issue_tracker"): vol.Url(),
        vol.Optional("quality_scale"): vol.In(QUALITY_SCALES),
        vol.Optional("requirements"): [_requirement],
        vol.Optional("dependencies"): [str],
        vol.Optional("after_dependencies"): [str],
        vol.Required("codeowners"): [vol.All(str, vol.Match(r"^@"))],
        vol.Optional("loggers"): [str],
        vol.Optional("disabled"): str,
        # Required by validate_manifest for every domain that is not a building block.
        vol.Required("iot_class"): vol.In(IOT_CLASSES),
        vol.Optional("single_config_entry"): bool,
        # Custom integrations only; hassfest errs without a version.
        vol.Required("version"): _version,
        vol.Optional("import_executor"): bool,
    }
)

# --- Manifest -----------------------------------------------------------------------


def test_manifest_schema() -> None:
    manifest = _json("manifest.json")
    MANIFEST_SCHEMA(manifest)
    assert manifest["domain"] == INTEGRATION.name
    # A warning in hassfest: a custom integration would shadow the core one.
    assert not (HA_COMPONENTS / manifest["domain"]).exists()


def test_manifest_keys_are_sorted() -> None:
    """Domain, name, then alphabetical: what hassfest's sort_manifest insists on."""
    keys = list(_json("manifest.json"))
    assert keys[:2] == ["domain", "name"]
    assert keys[2:] == sorted(keys[2:])


def _referenced_components(node: ast.AST) -> Iterator[str]:
    """Integrations a module imports, outside `if TYPE_CHECKING:` (as hassfest)."""
    if (
        isinstance(node, ast.If)
        and isinstance(node.test, ast.Name)
        and node.test.id == "TYPE_CHECKING"
    ):
        return
    if isinstance(node, ast.ImportFrom) and node.module:
        if node.module == "homeassistant.components":
            yield from (alias.name for alias in node.names)
        elif node.module.startswith("homeassistant.components."):
            yield node.module.split(".")[2]
    elif isinstance(node, ast.Import):
        for alias in node.names:
            if alias.name.startswith("homeassistant.components."):
                yield alias.name.split(".")[2]
    for child in ast.iter_child_nodes(node):
        yield from _referenced_components(child)


def test_manifest_dependencies() -> None:
    """Dependencies exist; every integration imported is one (or a platform of ours).

    Stricter than hassfest, which also lets a few internal integrations through.
    """
    manifest = _json("manifest.json")
    dependencies = set(manifest.get("dependencies", []))
    after = set(manifest.get("after_dependencies", []))
    assert not dependencies & after
    for domain in dependencies | after:
        assert (HA_COMPONENTS / domain / "manifest.json").is_file(), domain
    allowed = (
        dependencies
        | after
        | {platform.value for platform in Platform}
        | {path.stem for path in INTEGRATION.glob("*.py")}
    )
    undeclared = {
        f"{path.name}: {domain}"
        for path, module in _modules()
        for domain in _referenced_components(module)
        if domain not in allowed
    }
    assert undeclared == set()


def test_config_flow_and_config_schema() -> None:
    manifest = _json("manifest.json")
    if manifest.get("config_flow"):
        assert (INTEGRATION / "config_flow.py").is_file()
    init = ast.parse((INTEGRATION / "__init__.py").read_text(encoding="utf-8"))
    functions = {
        node.name
        for node in init.body
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
    }
    assigned = {
        target.id
        for node in init.body
        if isinstance(node, ast.Assign)
        for target in node.targets
        if isinstance(target, ast.Name)
    }
    if functions & {"async_setup", "setup"}:
        assert assigned & {"CONFIG_SCHEMA", "PLATFORM_SCHEMA", "PLATFORM_SCHEMA_BASE"}


def test_brand_icon() -> None:
    """brand/icon.png (HA 2026.11: Integration.has_branding) is a 256 x 256 PNG."""
    head = (INTEGRATION / "brand" / "icon.png").read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n"
    assert struct.unpack(">II", head[16:24]) == (256, 256)


# --- Services -----------------------------------------------------------------------


def _registered_services() -> dict[str, vol.Schema | None]:
    """Services the code registers with hass.services.async_register, and schemas."""
    found: dict[str, vol.Schema | None] = {}
    for path, module in _modules():
        for node in ast.walk(module):
            if not isinstance(node, ast.Call):
                continue
            name = _func_name(node)
            assert name not in {
                "async_register_admin_service",
                "async_register_entity_service",
                "async_register_platform_entity_service",
            }, f"{path.name}: teach this test {name}"
            if name != "async_register" or len(node.args) < 2:
                continue
            service = _resolve(node.args[1])
            assert service is not None, f"{path.name}:{node.lineno}"
            schema_node = _keyword(node, "schema") or (
                node.args[3] if len(node.args) > 3 else None
            )
            schema = None
            if isinstance(schema_node, ast.Name):
                module_name = f"{PACKAGE}.{path.stem}"
                schema = getattr(importlib.import_module(module_name), schema_node.id)
            found[service] = schema
    return found


def test_services_yaml_schema() -> None:
    SERVICES_SCHEMA(_yaml("services.yaml"))


def test_services_yaml_matches_the_code() -> None:
    """Every registered service is described, with the fields its schema takes."""
    services = _yaml("services.yaml")
    registered = _registered_services()
    assert set(registered) == set(services)
    for name, schema in registered.items():
        fields = (services[name] or {}).get("fields", {})
        assert schema is not None, name
        assert {str(key): isinstance(key, vol.Required) for key in schema.schema} == {
            key: bool(value.get("required", False)) for key, value in fields.items()
        }, name


def test_services_are_translated_and_have_icons() -> None:
    services = _yaml("services.yaml")
    strings = _json("strings.json").get("services", {})
    icons = _json("icons.json").get("services", {})
    assert set(strings) == set(services)
    assert set(icons) == set(services)
    for name, service in services.items():
        assert strings[name]["name"]
        assert strings[name]["description"]
        fields = {
            key: value
            for key, value in ((service or {}).get("fields") or {}).items()
            if "fields" not in (value or {})
        }
        sections = {
            key
            for key, value in ((service or {}).get("fields") or {}).items()
            if "fields" in (value or {})
        }
        assert set(strings[name].get("fields", {})) == set(fields), name
        assert set(strings[name].get("sections", {})) == sections, name
        for key in fields:
            assert strings[name]["fields"][key]["name"], f"{name}.{key}"
            assert strings[name]["fields"][key]["description"], f"{name}.{key}"


# --- Strings and icons ----------------------------------------------------------------


def test_english_translation_is_strings_json() -> None:
    """A custom integration loads translations/en.json; strings.json is its source."""
    assert _json("translations/en.json") == _json("strings.json")


def test_strings_schema() -> None:
    for name in ("strings.json", "translations/en.json"):
        strings = _json(name)
        STRINGS_SCHEMA(strings)
        # References are resolved for core integrations only.
        assert [
            path
            for path, value in _strings_values(strings)
            if RE_REFERENCE.search(value)
        ] == []


def test_icons_schema() -> None:
    ICONS_SCHEMA(_json("icons.json"))


@dataclass
class _Use:
    """A translation key used by the code and the placeholders it passes."""

    where: str
    placeholders: set[str] | None  # None: not a literal, not checked


def _exception_keys() -> dict[str, list[_Use]]:
    """Keys of exceptions raised with translation_domain and translation_key."""
    found: dict[str, list[_Use]] = {}
    for path, module in _modules():
        for node in ast.walk(module):
            if (
                not isinstance(node, ast.Call)
                or _keyword(node, "translation_domain") is None
            ):
                continue
            key = _resolve(_keyword(node, "translation_key"))
            assert key is not None, f"{path.name}:{node.lineno}"
            placeholders = _dict_keys(_keyword(node, "translation_placeholders"))
            found.setdefault(key, []).append(
                _Use(f"{path.name}:{node.lineno}", placeholders)
            )
    return found


def test_exception_translations() -> None:
    """Every exception key exists with the placeholders passed, and none is stale."""
    messages = {
        key: value["message"]
        for key, value in _json("strings.json")["exceptions"].items()
    }
    used = _exception_keys()
    assert set(used) == set(messages)
    for key, uses in used.items():
        for use in uses:
            if use.placeholders is not None:
                assert _placeholders(messages[key]) == use.placeholders, use.where


def test_entity_translations() -> None:
    """Entity translation keys of each platform agree with strings and icons."""
    strings = _json("strings.json").get("entity", {})
    icons = _json("icons.json").get("entity", {})
    used: dict[str, set[str]] = {}
    platforms = {platform.value for platform in Platform}
    for path, module in _modules():
        if path.stem not in platforms:
            continue
        for node in ast.walk(module):
            key: str | None = None
            # An entity description: a translation_key without a translation_domain.
            if (
                isinstance(node, ast.Call)
                and _keyword(node, "translation_domain") is None
            ):
                key = _resolve(_keyword(node, "translation_key"))
            elif isinstance(node, ast.Assign) and any(
                getattr(target, "id", getattr(target, "attr", None))
                == "_attr_translation_key"
                for target in node.targets
            ):
                key = _resolve(node.value)
            if key is not None:
                used.setdefault(path.stem, set()).add(key)
    assert set(strings) == set(used)
    for platform, keys in used.items():
        assert set(strings[platform]) == keys, platform
        assert set(icons.get(platform, {})) <= keys, platform


def test_issue_translations() -> None:
    """The repair issues of const.ISSUE_* are those of strings.json."""
    issues = {value for name, value in vars(const).items() if name.startswith("ISSUE_")}
    assert set(_json("strings.json").get("issues", {})) == issues


@dataclass
class _Flow:
    """What a flow of config_flow.py shows: steps, fields, errors and aborts."""

    steps: dict[str, set[str] | None] = field(default_factory=dict)  # placeholders
    data: dict[str, set[str]] = field(default_factory=dict)
    errors: set[tuple[str, str]] = field(default_factory=set)  # (field, key)
    aborts: set[str] = field(default_factory=set)


type _Function = ast.FunctionDef | ast.AsyncFunctionDef

# HA's helpers that abort with a reason of their own.
_ABORT_HELPERS = {
    "_abort_if_unique_id_configured": "already_configured",
    "_abort_if_unique_id_mismatch": "unique_id_mismatch",
}


def _flows() -> dict[str, _Flow]:  # noqa: C901 - one walk over config_flow.py
    module = ast.parse((INTEGRATION / "config_flow.py").read_text(encoding="utf-8"))
    top: dict[str, ast.AST] = {}
    for node in module.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            top[node.name] = node
        elif isinstance(node, ast.Assign):
            top.update(
                (t.id, node.value) for t in node.targets if isinstance(t, ast.Name)
            )
    # Each function with the flows it serves: a class's methods by its base, a
    # module function by the flows whose methods call it (config when none).
    scopes: list[tuple[set[str], _Function]] = []
    reason_index: dict[str, int] = {}
    for node in module.body:
        if isinstance(node, ast.ClassDef):
            bases = {
                getattr(base, "id", getattr(base, "attr", "")) for base in node.bases
            }
            kind = "options" if "OptionsFlow" in bases else "config"
            for method in node.body:
                if isinstance(method, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    scopes.append(({kind}, method))
                    names = [arg.arg for arg in method.args.args]
                    if "reason" in names:
                        reason_index[method.name] = names.index("reason") - 1
    for name, definition in top.items():
        if isinstance(definition, (ast.FunctionDef, ast.AsyncFunctionDef)):
            kinds = {
                next(iter(k))
                for k, method in scopes
                if any(
                    isinstance(n, ast.Name) and n.id == name for n in ast.walk(method)
                )
            }
            scopes.append((kinds or {"config"}, definition))

    def schema_keys(expr: ast.AST, function: _Function, seen: set[str]) -> set[str]:
        keys: set[str] = set()
        for sub in ast.walk(expr):
            if (
                isinstance(sub, ast.Call)
                and _func_name(sub) in {"Required", "Optional"}
                and sub.args
                and (key := _resolve(sub.args[0])) is not None
            ):
                keys.add(key)
            elif isinstance(sub, ast.Name) and sub.id not in seen:
                seen.add(sub.id)
                local: list[ast.AST] = [
                    n.value
                    for n in ast.walk(function)
                    if isinstance(n, ast.Assign)
                    and any(
                        isinstance(t, ast.Name) and t.id == sub.id for t in n.targets
                    )
                ]
                for value in local or ([top[sub.id]] if sub.id in top else []):
                    keys |= schema_keys(value, function, seen)
        return keys

    flows = {"config": _Flow(), "options": _Flow()}
    for kinds, function in scopes:
        for kind in kinds:
            flow = flows[kind]
            for item in ast.walk(function):
                if isinstance(item, ast.Assign):
                    for target in item.targets:
                        if (
                            isinstance(target, ast.Subscript)
                            and isinstance(target.value, ast.Name)
                            and target.value.id == "errors"
                            and (error := _resolve(item.value)) is not None
                        ):
                            form_fields = _resolve_local(target.slice, function)
                            assert form_fields, f"line {item.lineno}"
                            flow.errors.update((f, error) for f in form_fields)
                if not isinstance(item, ast.Call):
                    continue
                name = _func_name(item)
                if (reason := _resolve(_keyword(item, "reason"))) is not None:
                    flow.aborts.add(reason)
                if name in reason_index and len(item.args) > reason_index[name]:
                    reason = _resolve(item.args[reason_index[name]])
                    assert reason is not None, f"line {item.lineno}"
                    flow.aborts.add(reason)
                if name in _ABORT_HELPERS:
                    flow.aborts.add(_ABORT_HELPERS[name])
                if name == "async_show_form":
                    step_id = _resolve(_keyword(item, "step_id"))
                    assert step_id is not None, f"line {item.lineno}"
                    flow.steps[step_id] = _dict_keys(
                        _keyword(item, "description_placeholders")
                    )
                    schema = _keyword(item, "data_schema")
                    flow.data[step_id] = (
                        set()
                        if schema is None
                        else schema_keys(schema, function, set())
                    )
    return flows


def test_config_flow_translations() -> None:
    """Each form's steps, fields, errors and aborts have texts, and no text is stale."""
    strings = _json("strings.json")
    for kind, flow in _flows().items():
        texts = strings.get(kind, {})
        assert set(texts.get("step", {})) == set(flow.steps), kind
        for step_id, placeholders in flow.steps.items():
            step = texts["step"][step_id]
            assert set(step.get("data", {})) == flow.data[step_id], f"{kind}.{step_id}"
            if placeholders is not None:
                used = set().union(
                    *(
                        _placeholders(step.get(key, ""))
                        for key in ("title", "description")
                    )
                )
                assert used <= placeholders, f"{kind}.{step_id}"
        assert set(texts.get("error", {})) == {key for _, key in flow.errors}, kind
        fields = set().union(*flow.data.values()) | {"base"}
        assert {f for f, _ in flow.errors} <= fields, kind
        assert set(texts.get("abort", {})) == flow.aborts, kind


# --- Quality scale --------------------------------------------------------------------

_RULE_STATUS = vol.Any(
    vol.In(["todo", "done"]),
    vol.Schema(
        {vol.Required("status"): vol.In(["todo", "done"]), vol.Required("comment"): str}
    ),
    vol.Schema({vol.Required("status"): "exempt", vol.Required("comment"): str}),
)


def test_quality_scale_lists_exactly_the_rules_of_2026_11() -> None:
    rules = _yaml("quality_scale.yaml")["rules"]
    all_rules = [rule for tier in QUALITY_SCALE_RULES.values() for rule in tier]
    vol.Schema(
        {
            vol.Required("rules"): {
                vol.Required(rule): _RULE_STATUS for rule in all_rules
            }
        }
    )({"rules": rules})
    assert sorted(rules) == sorted(all_rules)
    for rule, value in rules.items():
        if isinstance(value, dict):
            assert value["comment"].strip(), rule
