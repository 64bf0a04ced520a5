"""The dashboard: one HTML page and its static assets, served by the companion.

The page is plain HTML, CSS and ES modules from `companion/static/` (no build step,
no CDN); the chart library is copied into `companion/static/vendor/` by
`scripts/build-frontend` from the npm packages pinned in `package-lock.json`.

The routes returned here are relative: the application mounts them under its base
path (`ENERGY_TRACKER_BASE_PATH`), and the base path is written into the page so
that every asset URL and every API request carries it. Navigation inside the page
uses the URL fragment (`#/history`), so it works under any prefix or proxy.
"""

from __future__ import annotations

import hashlib
import html
import json
import logging
from pathlib import Path

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

from .config import CompanionConfig

_LOGGER = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).resolve().parent / "static"
VENDOR_DIR = STATIC_DIR / "vendor"
_REQUIRED_VENDOR_FILES = ("uPlot.esm.js", "uPlot.min.css")

# Everything the page loads comes from the companion itself. uPlot positions its
# cursor and legend through element styles, hence 'unsafe-inline' for styles only.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; connect-src 'self'; object-src 'none'; "
    "base-uri 'none'; form-action 'self'"
)

_SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def _asset_version() -> str:
    """A short hash of the static files, appended to asset URLs to bust caches."""
    digest = hashlib.sha256()
    for path in sorted(STATIC_DIR.rglob("*")):
        if path.is_file():
            stat = path.stat()
            digest.update(
                f"{path.relative_to(STATIC_DIR)}:{stat.st_size}:{stat.st_mtime_ns}".encode()
            )
    return digest.hexdigest()[:12]


def render_index(config: CompanionConfig) -> str:
    """Return index.html with the base path and the asset version filled in."""
    template = (STATIC_DIR / "index.html").read_text(encoding="utf-8")
    base = config.base_path.rstrip("/")
    page_config = {"basePath": base, "version": _asset_version()}
    replacements = {
        "{{BASE}}": html.escape(base, quote=True),
        "{{VERSION}}": page_config["version"],
        "{{CONFIG}}": html.escape(json.dumps(page_config), quote=True),
    }
    for placeholder, value in replacements.items():
        template = template.replace(placeholder, value)
    return template


class _StaticAssets(StaticFiles):
    """StaticFiles that revalidates every time and adds the security headers."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        response.headers["Cache-Control"] = "no-cache"
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response


def missing_vendor_files() -> list[str]:
    """Names of vendored libraries that scripts/build-frontend has not copied yet."""
    return [
        name for name in _REQUIRED_VENDOR_FILES if not (VENDOR_DIR / name).is_file()
    ]


def dashboard_routes(config: CompanionConfig) -> list[BaseRoute]:
    """Routes of the dashboard: the page at `/` and its assets under `/static/`.

    Add them to the application's routes before they are mounted under the base
    path. Without the vendored chart library the page still loads and says how to
    install it, so a missing `scripts/build-frontend` run is obvious, not silent.
    """

    if missing := missing_vendor_files():
        _LOGGER.warning(
            "The dashboard's chart library is missing (%s): run scripts/build-frontend",
            ", ".join(missing),
        )

    async def index(request: Request) -> Response:
        body = render_index(config)
        return HTMLResponse(
            body, headers={**_SECURITY_HEADERS, "Cache-Control": "no-cache"}
        )

    return [
        Route("/", index, methods=["GET", "HEAD"], name="dashboard"),
        Mount(
            "/static",
            app=_StaticAssets(directory=STATIC_DIR, check_dir=True),
            name="static",
        ),
    ]
