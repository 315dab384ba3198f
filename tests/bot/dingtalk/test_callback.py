"""POST /dingtalk/callback as DingTalk calls it: signature and clock checks, bad input, @-mention rules,
redelivery, and replies that come too late for the response body."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, select
from sqlalchemy.exc import OperationalError

from bot.app import create_app
from core.clock import ManualClock
from handlers.dispatch import Dispatcher
from storage.db import make_session_factory, transaction
from storage.models import ChatIdentity, Issue, Material, OutboxMessage, ProcessedMessage, StoredFile, WeeklyReport
from tests.bot.dingtalk.conftest import (
    COORDINATOR_STAFF,
    LU_STAFF,
    DingTalkChat,
    GatedDispatcher,
    dingtalk_settings,
    millis,
    payload,
    shown,
    unchanged,
)
from tests.bot.dingtalk.fake_dingtalk import GETTOKEN, SESSION, UPLOAD, WORK, FakeDingTalk
from tests.bot.test_sim_stories import FULL_ISSUE, REGISTER_LU, count
from tests.conftest import Database, make_settings


@pytest.fixture
def slow(
    plan_loaded: Database, clock: ManualClock, fake_dingtalk: FakeDingTalk
) -> Iterator[tuple[DingTalkChat, GatedDispatcher]]:
    """An app with a 50 ms reply budget whose dispatcher waits for the test to open its gate."""
    app = create_app(dingtalk_settings(plan_loaded, fake_dingtalk, dingtalk_reply_budget=0.05), clock=clock)
    with TestClient(app) as client:
        gated = GatedDispatcher(app.state.services.dispatcher)
        app.state.services.dispatcher = gated
        yield DingTalkChat(client, clock), gated


def settle(chat: DingTalkChat) -> None:
    """Wait until the replies still in flight have gone out (what shutdown waits for, too)."""
    chat.client.portal.call(chat.client.app.state.dingtalk.drain)  # type: ignore[attr-defined,union-attr]


# --- answering ------------------------------------------------------------------------------------------


def test_a_private_message_is_answered_in_the_response_body(
    ding: DingTalkChat, plan_loaded: Database, fake_dingtalk: FakeDingTalk
) -> None:
    response = ding.post(ding.message(LU_STAFF, "帮助", msg_id="msgHelp1"))
    assert response.status_code == 200
    answer = response.json()
    assert answer["msgtype"] == "text" and "您的身份：未登记用户" in answer["text"]["content"]
    assert "at" not in answer  # no @ in a one-to-one chat
    assert fake_dingtalk.calls(SESSION) == []
    with transaction(plan_loaded.sessions) as session:
        record = session.scalars(select(ProcessedMessage)).one()
        assert (record.platform, record.message_id) == ("dingtalk", "msgHelp1")


def test_rich_text_is_read_as_its_text_parts(ding: DingTalkChat, dingtalk_people: Database) -> None:
    body = payload("rich_text") | {"senderStaffId": "0233305124211239"}  # 马强
    response = ding.post(body)
    assert "已收到「执法监察支队」第29周周报" in response.json()["text"]["content"]
    with transaction(dingtalk_people.sessions) as session:
        assert session.scalars(select(WeeklyReport.text)).one() == "本周完成执法案卷评查3件\n评查记录见附图"


def test_a_picture_from_an_unregistered_user_is_refused_and_nothing_is_kept(
    ding: DingTalkChat, plan_loaded: Database, fake_dingtalk: FakeDingTalk
) -> None:
    fake_dingtalk.files[payload("picture")["content"]["downloadCode"]] = ("IMG.jpg", b"\xff\xd8\xff\xe0" + bytes(40))
    response = ding.post(payload("picture"))
    assert (response.status_code, response.json()) == (200, {})  # acknowledged; the answer follows
    [reply] = fake_dingtalk.wait_for(SESSION)
    assert "还未登记为联络员" in reply.body["text"]["content"]
    with transaction(plan_loaded.sessions) as session:  # the refusal is audited; the file is not kept
        assert session.scalars(select(Material)).all() == [] and session.scalars(select(StoredFile)).all() == []


def test_a_user_outside_the_organisation_is_told_so(ding: DingTalkChat, plan_loaded: Database) -> None:
    with unchanged(plan_loaded):
        response = ding.post(ding.message(None, "帮助"))
    assert "不属于本组织" in response.json()["text"]["content"]


# --- groups ---------------------------------------------------------------------------------------------


def test_in_a_group_the_bot_answers_only_when_mentioned(ding: DingTalkChat, dingtalk_people: Database) -> None:
    with unchanged(dingtalk_people):
        assert ding.send(COORDINATOR_STAFF, "汇总", group=True, at=False) == ""
    response = ding.post(ding.message(COORDINATOR_STAFF, "汇总", group=True, at=True))
    answer = response.json()
    assert answer["msgtype"] == "markdown" and "当前阶段：自查整改阶段" in shown(answer)
    assert shown(answer).startswith(f"@{COORDINATOR_STAFF}")  # DingTalk highlights an @ only when it is in the text
    assert answer["at"] == {"atUserIds": [COORDINATOR_STAFF], "isAtAll": False}  # the asker is @-mentioned


def test_the_recorded_group_message_is_understood(
    ding: DingTalkChat, dingtalk_people: Database, clock: ManualClock
) -> None:
    body = payload("group_text") | {"sessionWebhookExpiredTime": millis(clock, timedelta(minutes=90))}
    assert "联络员登记" in shown(ding.post(body).json())  # " 汇总" from 俞建奎, @-mentioning the bot


# --- redelivery and outages -----------------------------------------------------------------------------


def test_a_redelivered_message_is_processed_once_and_answered_once(
    ding: DingTalkChat, plan_loaded: Database, fake_dingtalk: FakeDingTalk
) -> None:
    ding.send(LU_STAFF, REGISTER_LU)
    first = ding.send(LU_STAFF, FULL_ISSUE, msg_id="msgIssue1")
    assert "已登记问题 #1" in first
    assert ding.send(LU_STAFF, FULL_ISSUE, msg_id="msgIssue1") == ""  # DingTalk's retry: no second reply
    assert count(plan_loaded, Issue) == 1
    assert count(plan_loaded, ProcessedMessage, message_id="msgIssue1") == 1
    assert fake_dingtalk.calls(SESSION) == [] and fake_dingtalk.calls(WORK) == []


def test_a_database_outage_answers_503_and_the_redelivery_is_processed(
    ding: DingTalkChat, plan_loaded: Database, tmp_path: Path
) -> None:
    services = ding.client.app.state.services  # type: ignore[attr-defined]
    working = services.dispatcher
    (tmp_path / "not-a-directory").write_text("")
    broken = create_engine(f"sqlite:///{tmp_path}/not-a-directory/duban.db")
    services.dispatcher = Dispatcher(make_session_factory(broken))
    body = ding.message(LU_STAFF, REGISTER_LU, msg_id="msgDuringOutage")
    with unchanged(plan_loaded):
        response = ding.post(body)
    assert response.status_code == 503 and "数据库" in response.json()["detail"]

    services.dispatcher = working
    assert "登记成功" in ding.post(body).json()["text"]["content"]
    assert count(plan_loaded, ChatIdentity, platform="dingtalk", external_id=LU_STAFF) == 1


# --- bad input ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        {"sign": "bm90IHRoZSByaWdodCBzaWduYXR1cmU="},  # a made-up signature
        {"sign": ""},
        {"timestamp": ""},
    ],
    ids=["wrong-sign", "no-sign", "no-timestamp"],
)
def test_a_bad_signature_is_refused_with_403(
    ding: DingTalkChat, plan_loaded: Database, headers: dict[str, str]
) -> None:
    with unchanged(plan_loaded):
        response = ding.post(ding.message(LU_STAFF, REGISTER_LU), headers=headers)
    assert response.status_code == 403


def test_a_signature_made_with_another_secret_is_refused(ding: DingTalkChat, plan_loaded: Database) -> None:
    with unchanged(plan_loaded):
        response = ding.post(ding.message(LU_STAFF, REGISTER_LU), secret="someone-elses-app-secret")
    assert response.status_code == 403 and response.json()["detail"] == "签名校验失败"


@pytest.mark.parametrize(
    "offset",
    [timedelta(hours=-2), timedelta(minutes=61), timedelta(days=-1)],
    ids=["two-hours-old", "an-hour-ahead", "a-day-old"],
)
def test_a_timestamp_more_than_an_hour_off_is_refused_and_logged(
    ding: DingTalkChat, plan_loaded: Database, clock: ManualClock, offset: timedelta, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="duban.dingtalk"), unchanged(plan_loaded):
        response = ding.post(ding.message(LU_STAFF, REGISTER_LU), timestamp=millis(clock, offset))
    assert response.status_code == 403
    skew = abs(offset.total_seconds())
    assert f"{skew:.0f} s from the server clock" in caplog.text  # the log line states the skew


def test_a_timestamp_within_the_hour_is_accepted(ding: DingTalkChat, clock: ManualClock) -> None:
    response = ding.post(ding.message(LU_STAFF, "帮助"), timestamp=millis(clock, timedelta(minutes=-59)))
    assert response.status_code == 200


def test_callback_max_skew_setting_narrows_the_window(
    plan_loaded: Database, clock: ManualClock, fake_dingtalk: FakeDingTalk
) -> None:
    settings = dingtalk_settings(plan_loaded, fake_dingtalk, callback_max_skew=300)
    with TestClient(create_app(settings, clock=clock)) as client:
        chat = DingTalkChat(client, clock)
        stale = chat.post(chat.message(LU_STAFF, "帮助"), timestamp=millis(clock, timedelta(minutes=-6)))
        fresh = chat.post(chat.message(LU_STAFF, "帮助"), timestamp=millis(clock, timedelta(minutes=-4)))
    assert (stale.status_code, fresh.status_code) == (403, 200)


def _without(body: dict[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k != key}


@pytest.mark.parametrize(
    ("make_body", "reason"),
    [
        (lambda _m: b'{"msgtype": "text", "text": {"content": "\xe5\xb8\xae', "JSON"),
        (lambda _m: b"\xff\xfe not json at all", "JSON"),
        (lambda _m: b'["msgtype", "text"]', "JSON 对象"),
        (lambda m: json.dumps(_without(m, "msgId")).encode(), "msgId"),
        (lambda m: json.dumps(_without(m, "conversationType")).encode(), "conversationType"),
        (lambda m: json.dumps(m | {"conversationType": "3"}).encode(), "conversationType"),
        (lambda m: json.dumps(_without(m, "text")).encode(), "无法解析"),
        (lambda m: json.dumps(m | {"text": {"content": 12}}).encode(), "字符串"),
    ],
    ids=[
        "truncated",
        "binary",
        "array",
        "no-msgId",
        "no-conversationType",
        "bad-conversationType",
        "no-text",
        "number-text",
    ],
)
def test_a_malformed_body_is_refused_with_400(
    ding: DingTalkChat, plan_loaded: Database, make_body: Any, reason: str
) -> None:
    with unchanged(plan_loaded):
        response = ding.post(make_body(ding.message(LU_STAFF, REGISTER_LU)))
    assert response.status_code == 400 and reason in response.json()["detail"]


def test_a_body_over_one_megabyte_is_refused_with_413(ding: DingTalkChat, plan_loaded: Database) -> None:
    body = ding.message(LU_STAFF, "周报 " + "很长的内容" * 80_000)
    with unchanged(plan_loaded):
        response = ding.post(body)
    assert response.status_code == 413


def test_without_dingtalk_credentials_there_is_no_callback(plan_loaded: Database, clock: ManualClock) -> None:
    with TestClient(create_app(make_settings(plan_loaded), clock=clock)) as client:
        assert client.post("/dingtalk/callback", json={}).status_code == 404


# --- replies that miss the response body ----------------------------------------------------------------


def test_a_slow_reply_goes_through_the_session_webhook(
    slow: tuple[DingTalkChat, GatedDispatcher], dingtalk_people: Database, fake_dingtalk: FakeDingTalk
) -> None:
    chat, gated = slow
    response = chat.post(chat.message(COORDINATOR_STAFF, "汇总", group=True))
    assert response.status_code == 200 and response.json() == {}  # the budget ran out: nothing in the body
    gated.gate.set()
    [call] = fake_dingtalk.wait_for(SESSION)
    assert call.query == {"session": "9a8b7c6d5e4f30211f0e9d8c7b6a5948"}  # the message's own sessionWebhook
    assert "当前阶段：自查整改阶段" in shown(call.body)
    assert call.body["at"]["atUserIds"] == [COORDINATOR_STAFF]
    assert fake_dingtalk.calls(WORK) == []


def test_a_slow_reply_after_the_session_webhook_expired_is_a_work_notification(
    slow: tuple[DingTalkChat, GatedDispatcher], plan_loaded: Database, fake_dingtalk: FakeDingTalk
) -> None:
    chat, gated = slow
    body = chat.message(LU_STAFF, REGISTER_LU, webhook_valid_for=timedelta(seconds=20))
    assert chat.post(body).json() == {}
    gated.gate.set()
    [call] = fake_dingtalk.wait_for(WORK)
    assert call.body["agent_id"] == FakeDingTalk.AGENT_ID and call.body["userid_list"] == LU_STAFF
    assert "登记成功" in call.body["msg"]["text"]["content"]
    assert len(fake_dingtalk.calls(GETTOKEN)) == 1 and fake_dingtalk.calls(SESSION) == []


def test_a_slow_reply_nobody_can_take_now_waits_in_the_outbox(
    slow: tuple[DingTalkChat, GatedDispatcher], plan_loaded: Database, fake_dingtalk: FakeDingTalk
) -> None:
    chat, gated = slow
    fake_dingtalk.script(SESSION, {"errcode": 300001, "errmsg": "session is expired"})
    fake_dingtalk.script(WORK, {"errcode": -1, "errmsg": "系统繁忙"})
    body = chat.message(LU_STAFF, REGISTER_LU, msg_id="msgBusy")
    assert chat.post(body).json() == {}
    gated.gate.set()
    settle(chat)
    with transaction(plan_loaded.sessions) as session:
        queued = session.scalars(select(OutboxMessage)).one()
        assert (queued.channel, queued.target, queued.key) == ("dingtalk_work", LU_STAFF, "dingtalk-reply:msgBusy")
        assert "登记成功" in queued.text


def test_a_database_error_after_the_budget_tells_the_user_to_resend(
    slow: tuple[DingTalkChat, GatedDispatcher], plan_loaded: Database, fake_dingtalk: FakeDingTalk
) -> None:
    chat, gated = slow
    gated.error = OperationalError("INSERT INTO processed_messages …", {}, Exception("server closed the connection"))
    assert chat.post(chat.message(LU_STAFF, REGISTER_LU)).json() == {}
    gated.gate.set()
    [call] = fake_dingtalk.wait_for(SESSION)
    assert "请稍后重新发送" in call.body["text"]["content"]
    assert count(plan_loaded, ProcessedMessage) == 0  # nothing recorded: resending works


def test_the_summary_is_markdown_and_its_chart_follows_as_an_image_notification(
    ding: DingTalkChat, dingtalk_people: Database, fake_dingtalk: FakeDingTalk
) -> None:
    answer = ding.post(ding.message(COORDINATOR_STAFF, "汇总")).json()
    assert answer["msgtype"] == "markdown" and "**当前阶段**" in answer["markdown"]["text"]
    assert answer["markdown"]["title"].startswith("【")  # what the chat list shows
    [upload] = fake_dingtalk.wait_for(UPLOAD)
    assert upload.query["type"] == "image" and upload.body["png"] and upload.body["bytes"] > 1000
    [notification] = fake_dingtalk.wait_for(WORK)
    assert notification.body["userid_list"] == COORDINATOR_STAFF
    assert notification.body["msg"]["msgtype"] == "image"
    assert notification.body["msg"]["image"]["media_id"].startswith("@lADO")
    # A reply without a chart sends nothing more through the API.
    assert "没有需要取消" in ding.send(COORDINATOR_STAFF, "取消")
    assert len(fake_dingtalk.calls(UPLOAD)) == 1 and len(fake_dingtalk.calls(WORK)) == 1
