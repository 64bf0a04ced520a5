"""The connection test's failures, classified: a stable code, the field to fix, what to do."""

from __future__ import annotations

import errno
from urllib.parse import urlsplit

import aiohttp

from .errors import HAError

FIELD_URL = "ha_url"
FIELD_TOKEN = "ha_token"  # noqa: S105 - the name of a form field


class HACheckError(HAError):
    """The connection test failed: a stable code, the field to fix, what to do."""

    def __init__(self, code: str, field: str, message: str) -> None:
        """Keep the code, the field (ha_url or ha_token) and a message safe to show."""
        super().__init__(f"{code}: {message}")
        self.code = code
        self.field = field
        self.message = message


def host_and_port(url: str) -> tuple[str, str]:
    """(host, host:port) of an http(s) URL, for messages."""
    parts = urlsplit(url)
    host = parts.hostname or url
    port = parts.port or (443 if parts.scheme in ("https", "wss") else 80)
    shown = f"[{host}]" if ":" in host else host
    return host, f"{shown}:{port}"


def _os_error(err: BaseException) -> OSError | None:
    """The OSError under an aiohttp connector error, if any."""
    seen: BaseException | None = err
    while seen is not None:
        if isinstance(seen, OSError) and not isinstance(seen, aiohttp.ClientError):
            return seen
        inner = getattr(seen, "os_error", None)
        if isinstance(inner, OSError) and inner is not seen:
            seen = inner
            continue
        seen = seen.__cause__ or seen.__context__
    return None


def tls_problem(err: BaseException, url: str, where: str) -> HACheckError:
    """Explain a failed TLS handshake or an untrusted certificate."""
    if isinstance(err, aiohttp.ClientConnectorCertificateError):
        reason = getattr(err.certificate_error, "verify_message", None) or str(
            err.certificate_error
        )
        return HACheckError(
            "ha_tls_error",
            FIELD_URL,
            f"The TLS certificate of {where} is not trusted ({reason}). Home "
            "Assistant's certificate must be valid for this host name and signed by "
            "an authority the companion trusts; a self-signed certificate is not. "
            "Use the address the certificate is for, or Home Assistant's plain "
            "http:// address on your network.",
        )
    ssl_error = _os_error(err)
    reason = getattr(ssl_error, "reason", None) or type(ssl_error or err).__name__
    if reason in (
        "WRONG_VERSION_NUMBER",
        "RECORD_LAYER_FAILURE",
        "PACKET_LENGTH_TOO_LONG",
    ):
        hint = (
            f"{where} does not speak TLS: it is probably a plain HTTP port. "
            f"Try {url.replace('https://', 'http://', 1)}"
        )
    else:
        hint = f"TLS with {where} failed ({reason}). Check that the port serves HTTPS"
    return HACheckError("ha_tls_error", FIELD_URL, hint + ".")


def connect_problem(err: aiohttp.ClientConnectorError, url: str) -> HACheckError:
    """Explain why no connection could be made: name, port, TLS or network."""
    host, where = host_and_port(url)
    if isinstance(err, aiohttp.ClientSSLError):
        return tls_problem(err, url, where)
    if isinstance(err, aiohttp.ClientConnectorDNSError):
        local = host.endswith(".local")
        return HACheckError(
            "ha_dns_failed",
            FIELD_URL,
            f"The host name {host!r} does not resolve: check its spelling, or use "
            "Home Assistant's IP address instead"
            + (
                " (.local names need mDNS, which a container usually does not have)."
                if local
                else "."
            ),
        )
    os_error = _os_error(err)
    number = getattr(os_error, "errno", None)
    if urlsplit(url).scheme == "https" and (
        isinstance(os_error, (ConnectionResetError, ConnectionAbortedError))
        or number in (errno.ECONNRESET, errno.ECONNABORTED)
    ):  # the port took the connection, then dropped the TLS greeting
        return HACheckError(
            "ha_tls_error",
            FIELD_URL,
            f"{where} hung up on the TLS handshake: it is probably a plain HTTP "
            f"port. Try {url.replace('https://', 'http://', 1)}.",
        )
    if isinstance(os_error, ConnectionRefusedError) or number == errno.ECONNREFUSED:
        return HACheckError(
            "ha_connection_refused",
            FIELD_URL,
            f"Nothing accepts connections at {where}: check the port (Home Assistant "
            "listens on 8123 unless configured otherwise) and that Home Assistant "
            "is running.",
        )
    reason = getattr(os_error, "strerror", None) or type(os_error or err).__name__
    return HACheckError(
        "ha_unreachable",
        FIELD_URL,
        f"{where} cannot be reached ({reason}): check the address, and that the "
        "companion's network can reach Home Assistant's.",
    )


def handshake_problem(err: aiohttp.WSServerHandshakeError, url: str) -> HACheckError:
    """Explain an HTTP answer where the WebSocket upgrade was expected."""
    _, where = host_and_port(url)
    status = err.status
    if status in (401, 403):
        return HACheckError(
            "ha_access_denied",
            FIELD_URL,
            f"The server at {where} refused access with HTTP {status} before the "
            "token could be checked. If a proxy in front of Home Assistant asks for "
            "its own login, let the companion reach Home Assistant without it; if "
            "Home Assistant banned the companion's address after failed logins, "
            "remove it from ip_bans.yaml and restart Home Assistant.",
        )
    if status >= 500:
        return HACheckError(
            "ha_unreachable",
            FIELD_URL,
            f"The server at {where} answered HTTP {status}: a proxy whose Home "
            "Assistant is down or still starting? Try again when Home Assistant is up.",
        )
    path = urlsplit(url).path.rstrip("/")
    return HACheckError(
        "ha_not_home_assistant",
        FIELD_URL,
        f"The server at {where} answered HTTP {status} at /api/websocket: it is not "
        "Home Assistant"
        + (
            f". Use Home Assistant's base address, without the path {path!r}."
            if path and path != "/api/websocket"
            else ". Check the host and port (Home Assistant listens on 8123 unless "
            "configured otherwise)."
        ),
    )


def not_home_assistant(url: str, what: str) -> HACheckError:
    """Say that the server did `what`, which Home Assistant never does."""
    _, where = host_and_port(url)
    return HACheckError(
        "ha_not_home_assistant",
        FIELD_URL,
        f"The server at {where} {what}, which Home Assistant never does: it is not "
        "Home Assistant. Check the host and port (Home Assistant listens on 8123 "
        "unless configured otherwise).",
    )
