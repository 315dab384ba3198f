"""A lone surrogate ("\\ud800") is valid JSON but no text any encoder takes. It gets a 4xx with a reason or a polite
reply, never a 500 or a handler failure, and nothing of it is written."""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx
import pytest

from tests.bot.dingtalk.conftest import LU_STAFF, MA_STAFF, DingTalkChat, unchanged
from tests.conftest import Database
from tests.security.server import Served

LONE = "\ud800"


def raw(body: dict[str, str]) -> bytes:
    return json.dumps(body).encode()  # ensure_ascii: the surrogate travels as the JSON escape \ud800


@pytest.mark.parametrize(
    "body",
    [{"user": "MaQiang", "text": f"周报 本周{LONE}"}, {"user": f"Ma{LONE}", "text": "帮助"}],
    ids=["text", "user"],
)
def test_the_simulator_answers_422_with_a_reason(
    plan_loaded: Database, serve: Callable[..., Served], body: dict[str, str]
) -> None:
    server = serve(DUBAN_DATABASE_URL=plan_loaded.url)  # no platform: the simulator is on, as under make run
    with unchanged(plan_loaded):
        response = httpx.post(
            f"{server.url}/sim/api/messages",
            content=raw(body),
            timeout=30,
            headers={"content-type": "application/json"},
        )
    assert response.status_code == 422
    (problem,) = response.json()["detail"]
    assert problem["loc"][-1] in body and "\\ud800" in problem["input"]


def test_dingtalk_text_gets_a_polite_reply_and_nothing_is_written(
    ding: DingTalkChat, dingtalk_people: Database
) -> None:
    with unchanged(dingtalk_people):
        response = ding.post(raw(ding.message(MA_STAFF, f"周报 本周{LONE}")))
    assert response.status_code == 200 and "无法识别的字符" in response.json()["text"]["content"]


@pytest.mark.parametrize("field", ["msgId", "senderStaffId", "conversationId"])
def test_a_dingtalk_id_field_is_refused_with_400(ding: DingTalkChat, dingtalk_people: Database, field: str) -> None:
    body = ding.message(LU_STAFF, "帮助")
    body[field] = f"{body[field]}{LONE}"
    with unchanged(dingtalk_people):
        response = ding.post(raw(body))
    assert response.status_code == 400 and field in response.json()["detail"]
