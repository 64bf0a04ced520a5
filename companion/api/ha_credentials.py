"""The checks of Home Assistant's address and access token, before any connection."""

from __future__ import annotations

import contextlib
import ipaddress
import re
from urllib.parse import SplitResult, urlsplit

from pydantic_core import PydanticCustomError

# A host name as DNS spells it (after IDNA); IP addresses are checked apart.
HOST_NAME = re.compile(
    r"^(?=.{1,253}\.?$)[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?"
    r"(?:\.[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?)*\.?$"
)
URL_EXAMPLE = "e.g. http://homeassistant.local:8123 or http://192.168.1.10:8123"


def home_assistant_url(raw: str) -> str:
    """The HA base URL as given, checked: http(s)://host[:port][/path]."""

    def bad(message: str) -> PydanticCustomError:
        return PydanticCustomError("bad_url", message)

    if not raw.strip():
        raise bad(f"Enter Home Assistant's address, {URL_EXAMPLE}")
    url = raw.strip()
    if len(url) > 2048 or not url.isprintable() or any(c.isspace() for c in url):
        raise bad(f"Enter one address without spaces, {URL_EXAMPLE}")
    try:
        parts = urlsplit(url)
    except ValueError:  # e.g. an unclosed [IPv6 address
        raise bad(f"{url!r} is not a valid address, {URL_EXAMPLE}") from None
    if "://" not in url:
        raise bad(f"Start the address with http:// or https://, e.g. http://{url}")
    if parts.scheme.lower() not in ("http", "https"):
        raise bad(
            f"The address must start with http:// or https://, not {parts.scheme}://"
            f", {URL_EXAMPLE}"
        )
    problem = _authority_problem(parts)
    if problem is not None:
        raise bad(f"{problem}, {URL_EXAMPLE}")
    return url.rstrip("/")


def _authority_problem(parts: SplitResult) -> str | None:
    """What is wrong with the URL's host, port or extras, if anything."""
    if parts.query or parts.fragment:
        return "The address must not have a ?query or #fragment"
    if parts.username is not None or parts.password is not None:
        return (
            "Leave user name and password out of the address: the access token "
            "is what logs in"
        )
    try:
        port = parts.port
    except ValueError:
        port = 0
    if port == 0:
        return "The port must be a number from 1 to 65535"
    host = parts.hostname or ""
    if not host:
        return "The address has no host name"
    if not _valid_host(host):
        return f"{host!r} is not a valid host name or IP address"
    return None


def _valid_host(host: str) -> bool:
    with contextlib.suppress(ValueError):
        ipaddress.ip_address(host)
        return True
    try:
        ascii_name = host.encode("idna").decode("ascii")
    except UnicodeError:
        return False
    return HOST_NAME.match(ascii_name.lower()) is not None and not all(
        label.isdigit() for label in ascii_name.rstrip(".").split(".")
    )


def home_assistant_token(raw: str) -> str | None:
    """The token given, stripped; None when blank (the saved one is kept)."""
    token = raw.strip()
    if not token:
        return None
    if len(token) > 4096:
        raise PydanticCustomError(
            "bad_token", "The token is too long: paste only the long-lived access token"
        )
    if not token.isprintable() or any(c.isspace() for c in token):
        raise PydanticCustomError(
            "bad_token",
            "The token contains spaces or line breaks: paste only the long-lived "
            "access token, in one piece",
        )
    return token
