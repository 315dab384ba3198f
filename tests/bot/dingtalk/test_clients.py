"""The dingtalk_robot and dingtalk_work senders, as the delivery worker calls them, against the fake DingTalk."""

from __future__ import annotations

import asyncio
import socket
from datetime import timedelta

import httpx
from sqlalchemy import select

from bot.dingtalk import build_senders
from bot.settings import Settings
from core.clock import ManualClock
from scheduler.outbound import CHANNELS, OutboundMessage, SendResult, SendStatus
from storage.db import transaction
from storage.models import AccessToken
from tests.bot.dingtalk.conftest import LU_STAFF, dingtalk_settings, millis
from tests.bot.dingtalk.fake_dingtalk import GETTOKEN, ROBOT, WORK, FakeDingTalk
from tests.conftest import Database, make_settings

NUDGE = "【督办提醒】距「行政裁量基准」报送截止还有3天（9月30日），尚未报送：法制科"
ROBOT_SECRET = "SEC3f1b2c4d5e6a7b8c9d0e1f2a3b4c5d6e7f8a9b0c1d2e3f4a5b6c7d8e9f0a1b2c"


def deliver(settings: Settings, db: Database, clock: ManualClock, *messages: OutboundMessage) -> list[SendResult]:
    """Send messages one after another through the senders build_senders gives, like the delivery worker."""

    async def run() -> list[SendResult]:
        async with httpx.AsyncClient() as http:
            senders = {
                channel: sender
                for sender in build_senders(settings, db.sessions, clock, http)
                for channel in sender.channels
            }
            return [await senders[m.channel].send(m) for m in messages]

    return asyncio.run(run())


def robot_message(webhook: str, secret: str | None = ROBOT_SECRET, **fields: object) -> OutboundMessage:
    values: dict[str, object] = {
        "channel": "dingtalk_robot",
        "target": "专项整治工作群",
        "text": NUDGE,
        "address": webhook,
        "secret": secret,
    }
    return OutboundMessage(**(values | fields))  # type: ignore[arg-type]


def work_message(text: str = "您的登记已通过审核。", target: str = LU_STAFF) -> OutboundMessage:
    return OutboundMessage(channel="dingtalk_work", target=target, text=text)


# --- custom group robots --------------------------------------------------------------------------------


def test_a_signed_robot_posts_text_that_mentions_the_mobiles(
    db: Database, clock: ManualClock, fake_dingtalk: FakeDingTalk
) -> None:
    webhook = fake_dingtalk.add_robot("robot-token-1", ROBOT_SECRET)
    [result] = deliver(
        dingtalk_settings(db, fake_dingtalk), db, clock, robot_message(webhook, mentions=("13909551234",))
    )
    assert result.status is SendStatus.OK
    [call] = fake_dingtalk.calls(ROBOT)  # the fake checked the sign; a wrong one answers 310000
    assert call.query["access_token"] == "robot-token-1" and call.query["timestamp"] == str(millis(clock))
    assert call.body["msgtype"] == "text" and call.body["text"]["content"] == NUDGE + "\n@13909551234"
    assert call.body["at"] == {"atMobiles": ["13909551234"], "isAtAll": False}


def test_markdown_keeps_a_mention_already_in_the_text_and_adds_the_missing_one(
    db: Database, clock: ManualClock, fake_dingtalk: FakeDingTalk
) -> None:
    webhook = fake_dingtalk.add_robot("robot-token-1", ROBOT_SECRET)
    markdown = "### 报送提醒\n- 法制科 @13909551234"
    deliver(
        dingtalk_settings(db, fake_dingtalk),
        db,
        clock,
        robot_message(webhook, markdown=markdown, mentions=("13909551234", "13909550003")),
    )
    [call] = fake_dingtalk.calls(ROBOT)
    assert call.body["msgtype"] == "markdown"
    assert call.body["markdown"]["text"] == markdown + "\n@13909550003"
    assert call.body["markdown"]["title"] == NUDGE[:30]
    assert call.body["at"]["atMobiles"] == ["13909551234", "13909550003"]


def test_a_robot_without_a_sign_secret_is_called_unsigned(
    db: Database, clock: ManualClock, fake_dingtalk: FakeDingTalk
) -> None:
    webhook = fake_dingtalk.add_robot("keyword-robot")
    [result] = deliver(dingtalk_settings(db, fake_dingtalk), db, clock, robot_message(webhook, secret=None))
    assert result.status is SendStatus.OK
    assert set(fake_dingtalk.calls(ROBOT)[0].query) == {"access_token"}


def test_robots_work_without_any_app_credentials(db: Database, clock: ManualClock, fake_dingtalk: FakeDingTalk) -> None:
    settings = make_settings(db, dingtalk_api_base=fake_dingtalk.base_url)
    webhook = fake_dingtalk.add_robot("robot-token-1", ROBOT_SECRET)
    assert deliver(settings, db, clock, robot_message(webhook))[0].status is SendStatus.OK


def test_a_wrong_robot_secret_is_a_permanent_failure(
    db: Database, clock: ManualClock, fake_dingtalk: FakeDingTalk
) -> None:
    webhook = fake_dingtalk.add_robot("robot-token-1", ROBOT_SECRET)
    [result] = deliver(
        dingtalk_settings(db, fake_dingtalk), db, clock, robot_message(webhook, secret="SECnot-the-robots-secret")
    )
    assert result.status is SendStatus.PERMANENT and "errcode=310000" in result.detail


def test_over_twenty_a_minute_is_retried_after_the_minute(
    db: Database, clock: ManualClock, fake_dingtalk: FakeDingTalk
) -> None:
    webhook = fake_dingtalk.add_robot("robot-token-1", ROBOT_SECRET)
    fake_dingtalk.script(ROBOT, {"errcode": 130101, "errmsg": "send too fast, exceed 20 times per minute"})
    first, second = deliver(
        dingtalk_settings(db, fake_dingtalk), db, clock, robot_message(webhook), robot_message(webhook)
    )
    assert first.status is SendStatus.RETRYABLE and first.retry_after == 60 and "130101" in first.detail
    assert second.status is SendStatus.OK


def test_an_unknown_robot_or_a_webhook_without_token_is_permanent(
    db: Database, clock: ManualClock, fake_dingtalk: FakeDingTalk
) -> None:
    unknown, tokenless = deliver(
        dingtalk_settings(db, fake_dingtalk),
        db,
        clock,
        robot_message("https://oapi.dingtalk.com/robot/send?access_token=gone"),
        robot_message("https://oapi.dingtalk.com/robot/send"),
    )
    assert unknown.status is SendStatus.PERMANENT and "300001" in unknown.detail
    assert tokenless.status is SendStatus.PERMANENT and len(fake_dingtalk.calls(ROBOT)) == 1


def test_server_errors_and_unreachable_hosts_are_retryable(
    db: Database, clock: ManualClock, fake_dingtalk: FakeDingTalk
) -> None:
    webhook = fake_dingtalk.add_robot("robot-token-1", ROBOT_SECRET)
    fake_dingtalk.script(ROBOT, {"message": "bad gateway"}, status=502)
    [bad_gateway] = deliver(dingtalk_settings(db, fake_dingtalk), db, clock, robot_message(webhook))
    with socket.socket() as probe:  # a loopback port nobody listens on
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}"
    [refused] = deliver(make_settings(db, dingtalk_api_base=closed), db, clock, robot_message(webhook))
    assert bad_gateway.status is SendStatus.RETRYABLE and "HTTP 502" in bad_gateway.detail
    assert refused.status is SendStatus.RETRYABLE and "ConnectError" in refused.detail


# --- work notifications ---------------------------------------------------------------------------------


def test_work_notifications_share_one_token_kept_in_the_database(
    db: Database, clock: ManualClock, fake_dingtalk: FakeDingTalk
) -> None:
    settings = dingtalk_settings(db, fake_dingtalk)
    results = deliver(settings, db, clock, work_message(), work_message("第二条通知"))
    results += deliver(settings, db, clock, work_message("另一个进程发的通知"))  # a second process, same database
    assert [r.status for r in results] == [SendStatus.OK] * 3
    assert len(fake_dingtalk.calls(GETTOKEN)) == 1
    calls = fake_dingtalk.calls(WORK)
    assert {c.query["access_token"] for c in calls} == {"fake-token-1"}
    assert calls[0].body == {
        "agent_id": FakeDingTalk.AGENT_ID,
        "userid_list": LU_STAFF,
        "msg": {"msgtype": "text", "text": {"content": "您的登记已通过审核。"}},
    }
    with transaction(db.sessions) as session:
        row = session.scalars(select(AccessToken)).one()
        assert row.name == f"dingtalk:{FakeDingTalk.APP_KEY}" and row.token == "fake-token-1"
        assert row.expires_at == clock.now() + timedelta(seconds=7200 - 300)


def test_the_token_is_fetched_again_when_it_expires(
    db: Database, clock: ManualClock, fake_dingtalk: FakeDingTalk
) -> None:
    settings = dingtalk_settings(db, fake_dingtalk)
    deliver(settings, db, clock, work_message())
    clock.advance(timedelta(hours=2))
    deliver(settings, db, clock, work_message("两小时后的通知"))
    assert len(fake_dingtalk.calls(GETTOKEN)) == 2
    assert fake_dingtalk.calls(WORK)[-1].query["access_token"] == "fake-token-2"


def test_a_rejected_token_is_replaced_and_the_message_sent(
    db: Database, clock: ManualClock, fake_dingtalk: FakeDingTalk
) -> None:
    settings = dingtalk_settings(db, fake_dingtalk)
    deliver(settings, db, clock, work_message())
    fake_dingtalk.revoked.add("fake-token-1")  # e.g. the app secret was reset in the console
    [result] = deliver(settings, db, clock, work_message("换令牌后的通知"))
    assert result.status is SendStatus.OK
    assert [c.query["access_token"] for c in fake_dingtalk.calls(WORK)] == [
        "fake-token-1",
        "fake-token-1",
        "fake-token-2",
    ]
    with transaction(db.sessions) as session:
        assert session.scalars(select(AccessToken.token)).one() == "fake-token-2"


def test_work_notification_failures_are_classified(
    db: Database, clock: ManualClock, fake_dingtalk: FakeDingTalk
) -> None:
    fake_dingtalk.script(WORK, {"errcode": -1, "errmsg": "系统繁忙"})
    fake_dingtalk.script(WORK, {"errcode": 90018, "errmsg": "请求频率超过限制"})
    fake_dingtalk.script(WORK, {"errcode": 33012, "errmsg": "无效的userid"})
    busy, throttled, bad_user = deliver(
        dingtalk_settings(db, fake_dingtalk), db, clock, work_message(), work_message(), work_message(target="nobody")
    )
    assert busy.status is SendStatus.RETRYABLE and throttled.status is SendStatus.RETRYABLE
    assert bad_user.status is SendStatus.PERMANENT and "33012" in bad_user.detail


def test_a_wrong_app_secret_or_a_missing_agent_id_is_permanent(
    db: Database, clock: ManualClock, fake_dingtalk: FakeDingTalk
) -> None:
    [wrong_secret] = deliver(
        dingtalk_settings(db, fake_dingtalk, dingtalk_app_secret="not-the-secret"), db, clock, work_message()
    )
    [no_agent] = deliver(dingtalk_settings(db, fake_dingtalk, dingtalk_agent_id=None), db, clock, work_message())
    assert wrong_secret.status is SendStatus.PERMANENT and "40089" in wrong_secret.detail
    assert no_agent.status is SendStatus.PERMANENT and "AGENT_ID" in no_agent.detail
    assert fake_dingtalk.calls(WORK) == []
    assert "not-the-secret" not in wrong_secret.detail  # failures are logged; secrets never are


def test_the_senders_cover_the_dingtalk_channels_of_the_outbound_interface(
    db: Database, clock: ManualClock, fake_dingtalk: FakeDingTalk
) -> None:
    async def channels(settings: Settings) -> set[str]:
        async with httpx.AsyncClient() as http:
            return {c for s in build_senders(settings, db.sessions, clock, http) for c in s.channels}

    assert asyncio.run(channels(dingtalk_settings(db, fake_dingtalk))) == {"dingtalk_robot", "dingtalk_work"}
    assert asyncio.run(channels(make_settings(db))) == {"dingtalk_robot"}
    assert {"dingtalk_robot", "dingtalk_work"} <= CHANNELS
