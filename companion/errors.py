"""JSON errors of the API: {"error": {"code", "message"[, "field"]}}.

`field` names the input to fix when one is to blame (ha_url, ha_token).
"""

from __future__ import annotations

import logging
from typing import Any, Literal, NotRequired, TypedDict

import orjson
from pymongo.errors import PyMongoError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from .ha_client import HAError
from .questdb import QuestDBError

_LOGGER = logging.getLogger(__name__)


class JSON(Response):
    """A JSON response rendered with orjson (fast for large reading lists)."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        """Serialise with orjson."""
        return orjson.dumps(content, option=orjson.OPT_NON_STR_KEYS)


class ErrorDetail(TypedDict):
    """What went wrong: a stable code, a message to show and the input to fix."""

    code: str
    message: str
    field: NotRequired[Literal["ha_url", "ha_token"]]


class ErrorBody(TypedDict):
    """The body of every error answer of the API."""

    error: ErrorDetail


class ApiError(Exception):
    """An error answered to the client with its status and a stable code."""

    def __init__(
        self, status: int, code: str, message: str, field: str | None = None
    ) -> None:
        """Remember status, code, a message safe to show and the input to blame."""
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.field = field


def error_response(
    status: int, code: str, message: str, field: str | None = None
) -> JSON:
    """Build the error body."""
    error: dict[str, str] = {"code": code, "message": message}
    if field is not None:
        error["field"] = field
    return JSON({"error": error}, status_code=status)


async def api_error(request: Request, exc: Exception) -> Response:
    """Answer an ApiError."""
    if not isinstance(exc, ApiError):  # pragma: no cover - registered for ApiError only
        raise exc
    return error_response(exc.status, exc.code, exc.message, exc.field)


async def http_error(request: Request, exc: Exception) -> Response:
    """Answer Starlette's 404/405 as JSON."""
    if not isinstance(exc, HTTPException):  # pragma: no cover - registered for it only
        raise exc
    code = {404: "not_found", 405: "method_not_allowed"}.get(
        exc.status_code, "http_error"
    )
    return error_response(exc.status_code, code, str(exc.detail))


async def dependency_error(request: Request, exc: Exception) -> Response:
    """A database or HA is down: 503, without internals."""
    if isinstance(exc, QuestDBError):
        code, message = "questdb_unavailable", "QuestDB is unavailable"
    elif isinstance(exc, PyMongoError):
        code, message = "mongodb_unavailable", "MongoDB is unavailable"
    else:
        code, message = "home_assistant_unavailable", "Home Assistant is unavailable"
    _LOGGER.warning("%s %s: %s (%s)", request.method, request.url.path, message, exc)
    return error_response(503, code, message)


async def internal_error(request: Request, exc: Exception) -> Response:
    """Anything else: logged, answered as a generic 500."""
    _LOGGER.error("%s %s failed", request.method, request.url.path, exc_info=exc)
    return error_response(500, "internal_error", "internal error")


EXCEPTION_HANDLERS: dict[Any, Any] = {
    ApiError: api_error,
    HTTPException: http_error,
    QuestDBError: dependency_error,
    PyMongoError: dependency_error,
    HAError: dependency_error,
    Exception: internal_error,
}
