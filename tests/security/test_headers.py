"""Security headers on everything the app serves, not only on dashboard pages: the simulator, static files, /api
and its documentation; and nothing a coordinator reads is kept by a browser or a proxy."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from bot.app import create_app
from core.clock import ManualClock
from tests.bot.test_dashboard_access import log_in
from tests.conftest import Database, make_settings
from tests.factories import set_password

STATIC = Path(__file__).parents[2] / "bot" / "static"


@pytest.fixture
def app_client(plan_loaded: Database, clock: ManualClock) -> Iterator[TestClient]:
    set_password(plan_loaded)
    with TestClient(
        create_app(make_settings(plan_loaded, secret_key="headers-test"), clock=clock), follow_redirects=False
    ) as client:
        yield client


def assert_hardened(response: object, *, private: bool) -> None:
    headers = response.headers  # type: ignore[attr-defined]
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["x-frame-options"] == "DENY" and headers["referrer-policy"] == "same-origin"
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    assert (headers.get("cache-control") == "no-store") is private


def test_every_kind_of_response_carries_them(app_client: TestClient) -> None:
    public = [
        app_client.get("/sim"),
        app_client.get("/static/sim.js"),
        app_client.get("/static/dashboard.css"),
        app_client.get("/openapi.json"),
        app_client.get("/healthz"),
        app_client.get("/docs"),
    ]
    private = [
        app_client.get("/api/summary"),  # 401 without a session
        app_client.get("/sim/api/outbox"),
        app_client.get("/sim/api/users"),
        app_client.post("/sim/api/messages", json={"user": "YuJianKui", "text": "汇总"}),
        app_client.post("/sim/api/messages", json={"user": ""}),  # 422
        app_client.get("/dashboard/login"),
    ]
    log_in(app_client)
    private += [
        app_client.get("/api/summary"),
        app_client.get("/api/issues"),
        app_client.get("/dashboard"),
        app_client.get("/dashboard/export/issues.xlsx"),
    ]
    for response in public:
        assert_hardened(response, private=False)
    for response in private:
        assert_hardened(response, private=True)
    assert private[0].status_code == 401 and private[-4].status_code == 200


def test_the_simulator_page_works_under_its_policy() -> None:
    """script-src 'self' and style-src 'self': the page may only load its own files, with nothing inline."""
    page = (STATIC / "sim.html").read_text(encoding="utf-8")
    assert re.findall(r"<script\b[^>]*>", page) == ['<script src="/static/sim.js" defer>']
    assert "<style" not in page and "style=" not in page
    assert not re.search(r"\son[a-z]+=", page)  # no inline event handlers either
