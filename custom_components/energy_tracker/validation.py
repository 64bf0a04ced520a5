"""Checks of what the flows are given: servers that answer, and well-formed values."""

from __future__ import annotations

from collections.abc import Mapping
import contextlib
from functools import partial
from typing import Any

from homeassistant.core import HomeAssistant
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from pymongo import uri_parser
from pymongo.errors import PyMongoError

from .const import (
    CONF_MONGODB_DATABASE,
    CONF_MONGODB_URI,
    CONF_QUESTDB_PASSWORD,
    CONF_QUESTDB_TOKEN,
    CONF_QUESTDB_URL,
    CONF_QUESTDB_USERNAME,
    CONF_VERIFY_SSL,
    CONNECT_TEST_TIMEOUT,
)
from .core.questdb_http import (
    QuestDBAuthError,
    QuestDBError,
    QuestDBHttp,
    QuestDBUrlError,
    validate_questdb_url,
)
from .errors import CannotConnect, InvalidAuth, InvalidUri
from .mongo import create_client, database, ping
from .panel import validate_panel_url

_ENTITY_GLOB_CHARACTERS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_.*?[]!-")


def unique_id_for(data: Mapping[str, Any]) -> str:
    """Identify a QuestDB + MongoDB pair without any credentials."""
    parsed = uri_parser.parse_uri(data[CONF_MONGODB_URI], connect_timeout=1)
    hosts = ",".join(sorted(f"{host}:{port}" for host, port in parsed["nodelist"]))
    if not hosts and parsed.get("fqdn"):
        hosts = str(parsed["fqdn"])
    questdb = validate_questdb_url(data[CONF_QUESTDB_URL]).lower()
    return f"{questdb}|mongodb://{hosts}/{data[CONF_MONGODB_DATABASE]}"


async def async_validate_questdb(hass: HomeAssistant, data: Mapping[str, Any]) -> None:
    """Connect to QuestDB with the given settings; raise a specific error."""
    try:
        client = QuestDBHttp(
            async_get_clientsession(hass, verify_ssl=data.get(CONF_VERIFY_SSL, True)),
            data[CONF_QUESTDB_URL],
            username=data.get(CONF_QUESTDB_USERNAME),
            password=data.get(CONF_QUESTDB_PASSWORD),
            token=data.get(CONF_QUESTDB_TOKEN),
            timeout=CONNECT_TEST_TIMEOUT,
        )
        await client.execute("select 1")
    except QuestDBUrlError as err:
        raise InvalidUri(str(err)) from err
    except QuestDBAuthError as err:
        raise InvalidAuth(str(err)) from err
    except QuestDBError as err:  # unreachable, or refused even a simple query
        raise CannotConnect(str(err)) from err


async def async_validate_mongodb(hass: HomeAssistant, data: Mapping[str, Any]) -> None:
    """Connect to MongoDB with the given settings; raise a specific error."""
    client = await hass.async_add_executor_job(
        partial(create_client, data[CONF_MONGODB_URI], 5000)
    )
    try:
        await ping(database(client, data[CONF_MONGODB_DATABASE]))
    finally:
        with contextlib.suppress(PyMongoError):
            await client.close()


def is_entity_glob(pattern: str) -> bool:
    """Accept globs of entity ids: lower case, digits, `_`, `.`, `*`, `?`, `[]`."""
    return bool(pattern) and set(pattern) <= _ENTITY_GLOB_CHARACTERS


def is_http_url(value: str) -> bool:
    """Accept an http(s) address with a host."""
    try:
        validate_panel_url(value)
    except ValueError:
        return False
    return True
