"""Stream mode: the SDK glue fed with CallbackMessage frames built from recorded payloads, and `duban serve`
with DUBAN_DINGTALK_MODE=stream connecting to a fake Stream gateway on loopback."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
from dingtalk_stream import AckMessage, CallbackMessage
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, select

from bot.app import create_app
from bot.dingtalk.channel import RobotChannel
from bot.dingtalk.stream import RobotMessageHandler
from bot.services import Services, build_services
from core.clock import ManualClock
from handlers.dispatch import Dispatcher
from storage.db import make_session_factory, transaction
from storage.models import Contact, Material, ProcessedMessage
from storage.repos import Campaigns, People
from tests.bot.dingtalk.conftest import (
    LU_STAFF,
    MA_STAFF,
    GatedDispatcher,
    dingtalk_settings,
    millis,
    payload,
    unchanged,
)
from tests.bot.dingtalk.fake_dingtalk import (
    FILE_DOWNLOAD,
    OPEN_CONNECTION,
    ROBOT_CODE,
    SESSION,
    STREAM,
    STREAM_ACK,
    WORK,
    FakeDingTalk,
)
from tests.bot.test_sim_stories import FULL_ISSUE, REGISTER_LU, count
from tests.conftest import Database

RECORDED = payload("stream_callback")


def frame(**data: Any) -> CallbackMessage:
    """The recorded Stream frame, its robot message changed by `data` (None removes a field)."""
    raw = json.loads(json.dumps(RECORDED))
    message = json.loads(raw["data"]) | data
    raw["data"] = json.dumps({k: v for k, v in message.items() if v is not None}, ensure_ascii=False)
    return CallbackMessage.from_dict(raw)


def feed(services: Services, *frames: CallbackMessage) -> list[AckMessage]:
    """Hand frames to the handler one by one, as the SDK's client does, and collect the ACKs it sends back."""

    async def run() -> list[AckMessage]:
        async with httpx.AsyncClient() as http:
            handler = RobotMessageHandler(RobotChannel(services, http))
            return [await handler.raw_process(f) for f in frames]

    return asyncio.run(run())


def stream_services(
    db: Database, clock: ManualClock, fake: FakeDingTalk, wrap: Callable[[Dispatcher], Any] | None = None
) -> Services:
    services = build_services(dingtalk_settings(db, fake, dingtalk_mode="stream"), clock)
    if wrap is not None:
        services.dispatcher = wrap(services.dispatcher)
    return services


def test_a_recorded_message_is_answered_through_its_session_webhook(
    plan_loaded: Database, clock: ManualClock, fake_dingtalk: FakeDingTalk
) -> None:
    [ack] = feed(stream_services(plan_loaded, clock, fake_dingtalk), CallbackMessage.from_dict(RECORDED))
    assert ack.code == AckMessage.STATUS_OK and ack.headers.message_id == RECORDED["headers"]["messageId"]
    [reply] = fake_dingtalk.calls(SESSION)
    assert reply.query == {"session": "3d5e1f0b6c9a4e2d8f7a1b2c3d4e5f60"}
    assert "您的身份：未登记用户" in reply.body["text"]["content"] and "at" not in reply.body
    assert count(plan_loaded, ProcessedMessage, platform="dingtalk", message_id="msgWw5wRbu5Lp1a0cYQkLQ4Bg==") == 1


def test_a_liaison_registers_and_logs_an_issue_over_stream(
    plan_loaded: Database, clock: ManualClock, fake_dingtalk: FakeDingTalk
) -> None:
    acks = feed(
        stream_services(plan_loaded, clock, fake_dingtalk),
        frame(msgId="msgS1", text={"content": REGISTER_LU}),
        frame(msgId="msgS2", text={"content": FULL_ISSUE}),
    )
    assert [a.code for a in acks] == [200, 200]
    replies = [c.body["text"]["content"] for c in fake_dingtalk.calls(SESSION)]
    assert "登记成功" in replies[0] and "已登记问题 #1" in replies[1]


def test_a_redelivered_frame_gets_one_reply(
    plan_loaded: Database, clock: ManualClock, fake_dingtalk: FakeDingTalk
) -> None:
    acks = feed(stream_services(plan_loaded, clock, fake_dingtalk), frame(), frame())
    assert [a.code for a in acks] == [200, 200]
    assert len(fake_dingtalk.calls(SESSION)) == 1 and count(plan_loaded, ProcessedMessage) == 1


def test_a_group_message_without_mention_is_acknowledged_and_ignored(
    plan_loaded: Database, clock: ManualClock, fake_dingtalk: FakeDingTalk
) -> None:
    group = payload("group_text") | {"isInAtList": False, "atUsers": []}
    with unchanged(plan_loaded):
        [ack] = feed(stream_services(plan_loaded, clock, fake_dingtalk), frame(**group))
    assert ack.code == 200 and fake_dingtalk.calls(SESSION) == []


def test_a_picture_from_a_liaison_is_downloaded_and_kept(
    plan_loaded: Database, clock: ManualClock, fake_dingtalk: FakeDingTalk
) -> None:
    with transaction(plan_loaded.sessions) as session:
        campaign = Campaigns(session).current()
        ma = session.scalars(select(Contact).where(Contact.name == "马强")).one()
        People(session).bind(campaign, "dingtalk", MA_STAFF, contact=ma, now=clock.now())  # type: ignore[arg-type]
    picture = payload("picture") | {
        "sessionWebhookExpiredTime": millis(clock, timedelta(minutes=90)),
        "senderStaffId": MA_STAFF,
    }
    fake_dingtalk.files[picture["content"]["downloadCode"]] = ("整改后.jpg", b"\xff\xd8\xff\xe0" + bytes(40))
    [ack] = feed(stream_services(plan_loaded, clock, fake_dingtalk), frame(text=None, **picture))
    assert ack.code == 200
    reply = fake_dingtalk.calls(SESSION)[0].body["text"]["content"]
    assert "已收到文件「整改后.jpg」" in reply and "请回复编号" in reply
    [download] = fake_dingtalk.calls(FILE_DOWNLOAD)
    assert download.body == {"downloadCode": picture["content"]["downloadCode"], "robotCode": ROBOT_CODE}
    with transaction(plan_loaded.sessions) as session:
        assert session.scalars(select(Material.kind)).all() == ["jpg"]


def test_an_expired_session_webhook_falls_back_to_a_work_notification(
    plan_loaded: Database, clock: ManualClock, fake_dingtalk: FakeDingTalk
) -> None:
    stale = frame(sessionWebhookExpiredTime=millis(clock, timedelta(minutes=-5)))
    feed(stream_services(plan_loaded, clock, fake_dingtalk), stale)
    [notification] = fake_dingtalk.calls(WORK)
    assert notification.body["userid_list"] == LU_STAFF and fake_dingtalk.calls(SESSION) == []


def test_a_malformed_frame_gets_a_400_ack_and_nothing_is_written(
    plan_loaded: Database, clock: ManualClock, fake_dingtalk: FakeDingTalk
) -> None:
    with unchanged(plan_loaded):
        [ack] = feed(stream_services(plan_loaded, clock, fake_dingtalk), frame(msgId=None))
    assert ack.code == AckMessage.STATUS_BAD_REQUEST and "msgId" in ack.data["response"]


def test_a_database_outage_gets_a_500_ack_so_dingtalk_delivers_again(
    plan_loaded: Database, clock: ManualClock, fake_dingtalk: FakeDingTalk, tmp_path: Path
) -> None:
    (tmp_path / "not-a-directory").write_text("")
    broken = make_session_factory(create_engine(f"sqlite:///{tmp_path}/not-a-directory/duban.db"))
    services = stream_services(plan_loaded, clock, fake_dingtalk, wrap=lambda _d: Dispatcher(broken))
    with unchanged(plan_loaded):
        [ack] = feed(services, frame())
    assert ack.code == AckMessage.STATUS_SYSTEM_EXCEPTION and fake_dingtalk.calls(SESSION) == []


def test_a_slow_message_does_not_hold_up_the_next_one(
    plan_loaded: Database, clock: ManualClock, fake_dingtalk: FakeDingTalk
) -> None:
    """The dispatcher runs off the event loop: while one message is stuck, the next is answered."""
    gated: list[GatedDispatcher] = []

    def wrap(inner: Dispatcher) -> GatedDispatcher:
        gated.append(GatedDispatcher(inner, holds=lambda text: text == "汇总"))
        return gated[0]

    services = stream_services(plan_loaded, clock, fake_dingtalk, wrap=wrap)

    async def run() -> list[int]:
        async with httpx.AsyncClient() as http:
            handler = RobotMessageHandler(RobotChannel(services, http))
            stuck = asyncio.create_task(handler.raw_process(frame(msgId="msgSlow", text={"content": "汇总"})))
            quick = await handler.raw_process(frame(msgId="msgQuick"))
            assert not stuck.done()
            answered_while_stuck = len(fake_dingtalk.calls(SESSION))
            gated[0].gate.set()
            await stuck
            return [quick.code, answered_while_stuck, len(fake_dingtalk.calls(SESSION))]

    assert asyncio.run(run()) == [200, 1, 2]


def test_serve_in_stream_mode_connects_and_answers(
    plan_loaded: Database, clock: ManualClock, fake_dingtalk: FakeDingTalk
) -> None:
    settings = dingtalk_settings(plan_loaded, fake_dingtalk, dingtalk_mode="stream")
    with TestClient(create_app(settings, clock=clock)) as client:
        [connection] = fake_dingtalk.wait_for(STREAM)
        assert connection.query == {"ticket": "fake-ticket-1"}
        [opened] = fake_dingtalk.calls(OPEN_CONNECTION)
        assert opened.body["clientId"] == FakeDingTalk.APP_KEY
        assert opened.body["subscriptions"] == [{"type": "CALLBACK", "topic": "/v1.0/im/bot/messages/get"}]
        assert client.get("/healthz").status_code == 200  # the web app keeps serving beside the stream

        fake_dingtalk.push_frame(RECORDED)
        [ack] = fake_dingtalk.wait_for(STREAM_ACK)
        assert ack.body["code"] == 200 and ack.body["headers"]["messageId"] == RECORDED["headers"]["messageId"]
        [reply] = fake_dingtalk.wait_for(SESSION)
        assert "您的身份：未登记用户" in reply.body["text"]["content"]
