"""Malformed and hostile robot messages on /dingtalk/callback, signed exactly as DingTalk does: each is refused
with a 400 and a reason (never a 5xx), and nothing reaches the database. Hypothesis then writes the JSON itself:
whatever it is, no 5xx, and a refusal writes nothing."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.bot.dingtalk.conftest import LU_STAFF, DingTalkChat, table_counts, unchanged
from tests.conftest import Database

FUZZ = settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
LONG_ID = "u" * 129


def ding_body(ding: DingTalkChat, **changes: Any) -> bytes:
    return json.dumps(ding.message(LU_STAFF, "帮助") | changes, ensure_ascii=False).encode()


DINGTALK_HOSTILE: dict[str, tuple[Callable[[DingTalkChat], bytes], str]] = {
    "malformed JSON": (lambda ding: b'{"msgtype": "text", "text": {"content": "abc"}', "JSON"),
    "invalid UTF-8": (lambda ding: b'{"msgtype": "text", "text": {"content": "\xff\xfe"}}', "JSON"),
    "JSON array": (lambda ding: b"[1, 2, 3]", "JSON 对象"),
    "JSON string": (lambda ding: b'"hello"', "JSON 对象"),
    "JSON null": (lambda ding: b"null", "JSON 对象"),
    "deeply nested": (lambda ding: b"[" * 100_000 + b"]" * 100_000, "JSON"),
    "text.content a number": (lambda ding: ding_body(ding, text={"content": 12}), "字符串"),
    "text a string": (lambda ding: ding_body(ding, text="帮助"), ""),
    "senderStaffId a list": (lambda ding: ding_body(ding, senderStaffId=["a", "b"]), "senderStaffId"),
    "senderStaffId over 128 chars": (lambda ding: ding_body(ding, senderStaffId=LONG_ID), "senderStaffId"),
    "msgId over 128 chars": (lambda ding: ding_body(ding, msgId="m" * 129), "msgId"),
    "msgId a number": (lambda ding: ding_body(ding, msgId=12345), "msgId"),
    "conversationId a dict": (lambda ding: ding_body(ding, conversationId={"a": 1}), "conversationId"),
    "webhook expiry a string": (lambda ding: ding_body(ding, sessionWebhookExpiredTime="tomorrow"), "无法解析"),
    "webhook expiry out of range": (
        lambda ding: ding_body(ding, sessionWebhookExpiredTime=10**30),
        "sessionWebhookExpiredTime",
    ),
    "sessionWebhook a number": (lambda ding: ding_body(ding, sessionWebhook=5), "sessionWebhook"),
}


@pytest.mark.parametrize("case", DINGTALK_HOSTILE, ids=list(DINGTALK_HOSTILE))
def test_hostile_dingtalk_callbacks_are_refused_and_write_nothing(
    case: str, ding: DingTalkChat, plan_loaded: Database
) -> None:
    build, reason = DINGTALK_HOSTILE[case]
    with unchanged(plan_loaded):
        response = ding.post(build(ding))
    assert response.status_code == 400, response.text
    assert reason in response.json()["detail"]


JSON_SCALARS = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=6,
)
DINGTALK_KEYS = st.sampled_from(
    [
        "msgId",
        "msgtype",
        "text",
        "senderStaffId",
        "conversationType",
        "conversationId",
        "isInAtList",
        "sessionWebhook",
        "sessionWebhookExpiredTime",
        "content",
        "createAt",
        "senderNick",
        "chatbotUserId",
        "atUsers",
    ]
)


def test_generated_dingtalk_payloads_never_get_a_5xx(ding: DingTalkChat, plan_loaded: Database) -> None:
    @FUZZ
    @given(changes=st.dictionaries(DINGTALK_KEYS, JSON_VALUES, max_size=4), dropped=st.lists(DINGTALK_KEYS, max_size=2))
    def run(changes: dict[str, Any], dropped: list[str]) -> None:
        body = {k: v for k, v in (ding.message(LU_STAFF, "帮助") | changes).items() if k not in dropped}
        before = table_counts(plan_loaded)
        response = ding.post(json.dumps(body).encode())
        assert response.status_code < 500, (body, response.text)
        if response.status_code >= 400:
            assert table_counts(plan_loaded) == before, body

    run()
