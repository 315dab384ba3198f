"""HTTP hygiene of the app: liveness, body limits, and clear 4xx answers for bad simulator input."""

from __future__ import annotations

from unittest.mock import patch

from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select

from storage.db import transaction
from storage.models import AuditEntry, ProcessedMessage
from tests.conftest import Database


def test_healthz_is_liveness_and_does_not_touch_the_database(client: TestClient) -> None:
    with patch.object(Engine, "connect", side_effect=AssertionError("/healthz must not use the database")):
        response = client.get("/healthz")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


def test_a_body_over_one_megabyte_is_refused_before_parsing(client: TestClient, plan_loaded: Database) -> None:
    huge = '{"user": "MaQiang", "text": "' + "周" * 400_000 + '"}'
    response = client.post("/sim/api/messages", content=huge.encode(), headers={"content-type": "application/json"})
    assert response.status_code == 413 and "超过" in response.json()["detail"]

    def chunks():  # type: ignore[no-untyped-def]
        for _ in range(20):
            yield b"x" * 100_000  # no Content-Length: streamed, still refused

    assert client.post("/sim/api/messages", content=chunks()).status_code == 413
    with transaction(plan_loaded.sessions) as session:
        assert session.scalar(select(func.count()).select_from(ProcessedMessage)) == 0
        assert session.scalar(select(func.count()).select_from(AuditEntry)) == 1  # only the plan load


def test_malformed_simulator_requests_get_422_with_a_reason(client: TestClient) -> None:
    assert (
        client.post("/sim/api/messages", content=b"{not json", headers={"content-type": "application/json"}).status_code
        == 422
    )
    assert client.post("/sim/api/messages", json={"user": "", "text": "帮助"}).status_code == 422
    assert client.post("/sim/api/messages", json={"user": "has space", "text": "帮助"}).status_code == 422
    assert client.post("/sim/api/messages", json={"text": "帮助"}).status_code == 422


def test_the_simulator_page_is_served_without_external_assets(client: TestClient) -> None:
    page = client.get("/sim")
    assert page.status_code == 200 and "督办" in page.text
    assert "http://" not in page.text and "https://" not in page.text
    assert client.get("/static/sim.js").status_code == 200
    assert client.get("/static/sim.css").status_code == 200


def test_the_api_has_an_openapi_document(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert "/sim/api/messages" in paths and "/sim/api/outbox" in paths
