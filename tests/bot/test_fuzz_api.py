"""Schemathesis against the `/api` OpenAPI document, signed in as a coordinator: whatever the document allows (and
what it does not), the API answers with a 2xx or a 4xx — never a 5xx, never a database error."""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode

from tests.bot.test_dashboard_api import signed_in  # noqa: F401 — the fixture: a client signed in as 俞建奎

FUZZ = settings(
    max_examples=60, deadline=None, derandomize=True, database=None, suppress_health_check=list(HealthCheck)
)
MODES = [GenerationMode.POSITIVE, GenerationMode.NEGATIVE]


def api_operations(client: TestClient) -> Any:
    schema = schemathesis.openapi.from_dict(client.get("/openapi.json").json())
    return schema.include(path_regex="^/api/")


@pytest.mark.parametrize("mode", MODES, ids=[m.value for m in MODES])
def test_the_api_never_answers_5xx(signed_in: TestClient, mode: GenerationMode) -> None:  # noqa: F811
    schema = api_operations(signed_in)
    assert {op.ok().path for op in schema.get_all_operations()} >= {
        "/api/summary",
        "/api/units",
        "/api/issues",
        "/api/issues/{number}",
    }

    @FUZZ
    @given(case=schema.as_strategy(mode))
    def run(case: Any) -> None:
        response = signed_in.request(
            case.method,
            case.formatted_path,
            params=case.query,
            headers={k: str(v) for k, v in (case.headers or {}).items()},
        )
        assert response.status_code < 500, (case.formatted_path, case.query, response.text)

    run()


@pytest.mark.parametrize(
    "query",
    [
        {"unit": "99999999999"},
        {"unit": str(2**63)},
        {"unit": "-99999999999"},
        {"focus_area": "a\x00b"},
        {"source": "\x00"},
        {"status": "\x00"},
        {"page": "99999999999"},
    ],
)
def test_hostile_filters_are_refused_with_4xx(signed_in: TestClient, query: dict[str, str]) -> None:  # noqa: F811
    assert 400 <= signed_in.get("/api/issues", params=query).status_code < 500


@pytest.mark.parametrize("number", ["99999999999", str(2**63), "-99999999999"])
def test_an_issue_number_past_integer_is_not_found(signed_in: TestClient, number: str) -> None:  # noqa: F811
    response = signed_in.get(f"/api/issues/{number}")
    assert response.status_code == 404 and "没有编号为" in response.json()["detail"]


@pytest.mark.parametrize(
    "path",
    [
        "/dashboard/issues?unit=99999999999",
        "/dashboard/issues?focus_area=%00",
        "/dashboard/issues?source=a%00b",
        "/dashboard/issues/99999999999",
    ],
)
def test_the_dashboard_refuses_the_same_input_with_4xx(signed_in: TestClient, path: str) -> None:  # noqa: F811
    assert signed_in.get(path).status_code in (400, 404)
