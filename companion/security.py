"""Access control of /api: a bearer token when configured, otherwise same-origin writes."""

from __future__ import annotations

import hmac
import time

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .errors import error_response

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class ApiSecurity:
    """Pure ASGI middleware guarding every path under `<base>/api`."""

    def __init__(self, app: ASGIApp, *, api_token: str | None, api_prefix: str) -> None:
        """Wrap `app`; `api_prefix` is the base path plus `/api`."""
        self.app = app
        self._token = api_token.encode() if api_token else None
        self._prefix = api_prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Reject the request, or pass it on."""
        if scope["type"] != "http" or not self._is_api_path(scope["path"]):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        problem = self._check(scope, headers)
        if problem is not None:
            status, code, message = problem
            response = error_response(status, code, message)
            if status == 401:
                response.headers["WWW-Authenticate"] = "Bearer"
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def _is_api_path(self, path: str) -> bool:
        return path == self._prefix or path.startswith(self._prefix + "/")

    def _check(self, scope: Scope, headers: Headers) -> tuple[int, str, str] | None:
        method = scope["method"]
        if self._token is not None:
            if (
                scope["path"] == self._prefix + "/openapi.json"
                and method in SAFE_METHODS
            ):
                return None  # the API description is public
            scheme, _, given = headers.get("authorization", "").partition(" ")
            if scheme.lower() != "bearer" or not hmac.compare_digest(
                given.strip().encode(), self._token
            ):
                return 401, "unauthorized", "a valid bearer token is required"
            return None
        if method in SAFE_METHODS:
            return None
        origin = headers.get("origin")
        if origin is not None:
            host = headers.get("host", "")
            scheme = scope.get("scheme", "http")
            if origin.lower() not in (f"{scheme}://{host}".lower(),):
                return (
                    403,
                    "cross_origin",
                    "state-changing requests must come from the same origin",
                )
        elif headers.get("sec-fetch-site", "same-origin") not in (
            "same-origin",
            "none",
        ):
            return (
                403,
                "cross_origin",
                "state-changing requests must come from the same origin",
            )
        content_type = headers.get("content-type", "")
        has_body = (
            headers.get("content-length", "0") not in ("", "0")
            or "transfer-encoding" in headers
        )
        if has_body and not content_type.lower().startswith("application/json"):
            return 415, "unsupported_media_type", "the body must be application/json"
        return None


class ServerTiming:
    """Add `Server-Timing: app;dur=<ms>` to every HTTP response (time spent in the app)."""

    def __init__(self, app: ASGIApp) -> None:
        """Wrap `app`."""
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Time the request until its response headers are sent."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()

        async def timed_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                duration = (time.perf_counter() - started) * 1000
                headers = MutableHeaders(scope=message)
                headers.append("Server-Timing", f"app;dur={duration:.2f}")
            await send(message)

        await self.app(scope, receive, timed_send)
