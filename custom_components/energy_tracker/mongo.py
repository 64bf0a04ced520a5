"""MongoDB: the client, the database name's check and the connection test."""

from __future__ import annotations

from typing import Any

from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import (
    ConfigurationError,
    InvalidName,
    InvalidURI,
    OperationFailure,
    PyMongoError,
)

from .errors import CannotConnect, InvalidAuth, InvalidDatabaseName, InvalidUri

type MongoDocument = dict[str, Any]

_AUTH_CODES = frozenset({13, 18})


def create_client(uri: str, timeout_ms: int = 5000) -> AsyncMongoClient[MongoDocument]:
    """Create a client (blocking: may parse, resolve SRV and load certificates)."""
    try:
        return AsyncMongoClient(
            uri,
            serverSelectionTimeoutMS=timeout_ms,
            connectTimeoutMS=timeout_ms,
            socketTimeoutMS=30_000,
            tz_aware=True,
            appname="energy_tracker",
        )
    except (InvalidURI, ConfigurationError, ValueError, TypeError) as err:
        raise InvalidUri(type(err).__name__) from err


def database(
    client: AsyncMongoClient[MongoDocument], name: str
) -> AsyncDatabase[MongoDocument]:
    """Return the database, or raise InvalidDatabaseName."""
    if not name or any(c in name for c in '/\\. "$') or len(name) > 63:
        raise InvalidDatabaseName(name)
    try:
        return client[name]
    except InvalidName as err:
        raise InvalidDatabaseName(name) from err


def is_auth_failure(err: PyMongoError) -> bool:
    """Return whether MongoDB refused the credentials (not the connection)."""
    return isinstance(err, OperationFailure) and err.code in _AUTH_CODES


async def ping(db: AsyncDatabase[MongoDocument]) -> None:
    """Check the server answers and accepts the credentials."""
    try:
        await db.command("ping")
    except OperationFailure as err:
        if is_auth_failure(err):
            raise InvalidAuth("MongoDB rejected the credentials") from err
        raise CannotConnect(f"MongoDB: {err.code}") from err
    except PyMongoError as err:
        raise CannotConnect(f"MongoDB: {type(err).__name__}") from err
