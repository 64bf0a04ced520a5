"""The dashboard's routes in-process: page, base path, headers and assets."""

from __future__ import annotations

import re

from starlette.applications import Starlette
from starlette.routing import Mount
from starlette.testclient import TestClient

from companion.config import CompanionConfig
from companion.web import STATIC_DIR, dashboard_routes, missing_vendor_files


def _client(base_path: str) -> TestClient:
    config = CompanionConfig(base_path=base_path)
    routes = dashboard_routes(config)
    app = Starlette(routes=[Mount(base_path, routes=routes)] if base_path else routes)
    return TestClient(app)


def test_page_carries_the_base_path_and_a_strict_policy() -> None:
    client = _client("/energy")
    response = client.get("/energy/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    policy = response.headers["content-security-policy"]
    assert "default-src 'self'" in policy and "script-src 'self'" in policy
    html = response.text
    assert '"basePath": "/energy"' in html.replace("&quot;", '"')
    assets = re.findall(r'(?:src|href)="([^"#]+)"', html)
    assert assets and all(a.startswith("/energy/static/") for a in assets)
    assert "{{" not in html
    # No script, style or font from anywhere else.
    assert "http://" not in html and "https://" not in html
    for asset in assets:
        assert client.get(asset).status_code == 200, asset
    # Without the trailing slash the browser is sent to the page.
    redirect = client.get("/energy", follow_redirects=False)
    assert redirect.status_code in (301, 307, 308)
    assert redirect.headers["location"].endswith("/energy/")


def test_assets_are_served_with_types_and_revalidation() -> None:
    client = _client("")
    page = client.get("/")
    assert '"basePath": ""' in page.text.replace("&quot;", '"')
    script = client.get("/static/js/app.js")
    assert script.status_code == 200
    assert "javascript" in script.headers["content-type"]
    assert script.headers["cache-control"] == "no-cache"
    assert client.get("/static/../web.py").status_code == 404
    assert client.get("/static/js/missing.js").status_code == 404


def test_chart_library_is_vendored_and_no_cdn_is_used() -> None:
    assert missing_vendor_files() == [], "run scripts/build-frontend"
    for path in STATIC_DIR.rglob("*"):
        if (
            path.is_file()
            and path.suffix in {".js", ".css", ".html"}
            and "vendor" not in path.parts
        ):
            text = path.read_text()
            # Nothing is loaded from elsewhere: no import, src, href, url() or fetch of http(s).
            assert not re.search(
                r"""(import\s*\(?\s*|from\s+|src=|href=|url\(|fetch\()\s*["'`]?https?://""",
                text,
            ), path
