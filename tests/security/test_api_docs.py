"""/docs and /redoc load Swagger UI and ReDoc from the app itself: a government intranet has no CDN to reach, and
a script from one would run beside the coordinators' session."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_the_documentation_pages_load_nothing_from_elsewhere(client: TestClient, page: str) -> None:
    html = client.get(page)
    assert html.status_code == 200
    assert not re.search(r"https?://", html.text), "no asset from another host"
    assets = re.findall(r'(?:src|href)="([^"]+)"', html.text)
    assert any(a.endswith(".js") for a in assets)
    for asset in assets:
        served = client.get(asset)
        assert served.status_code == 200 and len(served.content) > 1000, asset
    # Its own bundled script may start inline; every other page keeps the strict policy.
    assert "script-src 'self' 'unsafe-inline'" in html.headers["content-security-policy"]
    assert "'unsafe-inline'" not in client.get("/sim").headers["content-security-policy"]


def test_the_openapi_document_is_still_there(client: TestClient) -> None:
    assert "/api/summary" in client.get("/openapi.json").json()["paths"]
