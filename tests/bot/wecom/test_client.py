"""The WeCom senders against the fake qyapi server: the access token cache, message/send, webhook/send."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import TypeVar

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from bot.wecom.client import build_senders, split_by_bytes, webhook_key
from core.clock import ManualClock
from scheduler.outbound import OutboundMessage, Sender, SendStatus
from storage.db import transaction
from storage.models import AccessToken
from tests.bot.wecom.conftest import wecom_settings
from tests.bot.wecom.fake_qyapi import GETTOKEN, MESSAGE_SEND, ROBOT_KEY, WEBHOOK_SEND, FakeQyapi
from tests.conftest import Database

T = TypeVar("T")
Senders = dict[str, Sender]
WEBHOOK = f"https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key={ROBOT_KEY}"


def with_senders(
    db: Database, clock: ManualClock, qyapi: FakeQyapi, scenario: Callable[[Senders], Awaitable[T]], **overrides: object
) -> T:
    """Run `scenario` with the senders build_senders makes, as one process of the app would hold them."""

    async def main() -> T:
        async with httpx.AsyncClient(timeout=5) as http:
            built = build_senders(wecom_settings(db, qyapi, **overrides), db.sessions, clock, http)
            return await scenario({channel: sender for sender in built for channel in sender.channels})

    return asyncio.run(main())


def to_user(user: str, text: str, **fields: object) -> OutboundMessage:
    return OutboundMessage(channel="wecom_app", target=user, text=text, **fields)  # type: ignore[arg-type]


def to_group(text: str, **fields: object) -> OutboundMessage:
    values: dict[str, object] = {"address": WEBHOOK} | fields
    return OutboundMessage(channel="wecom_robot", target="专项整治工作群", text=text, **values)  # type: ignore[arg-type]


# --- access token ---------------------------------------------------------------------------------------


def test_the_token_is_fetched_once_and_shared_through_the_database(
    db: Database, clock: ManualClock, qyapi: FakeQyapi
) -> None:
    async def three_messages(senders: Senders) -> list[SendStatus]:
        return [(await senders["wecom_app"].send(to_user("MaQiang", f"第{n}条"))).status for n in range(3)]

    assert with_senders(db, clock, qyapi, three_messages) == [SendStatus.OK] * 3
    assert with_senders(db, clock, qyapi, three_messages) == [SendStatus.OK] * 3  # a second process
    gettoken = qyapi.calls(GETTOKEN)
    assert len(gettoken) == 1 and gettoken[0].query == {
        "corpid": "wwduban00000001",
        "corpsecret": "app-secret-for-tests",
    }
    assert {call.query["access_token"] for call in qyapi.calls(MESSAGE_SEND)} == {"TOKEN-1"}
    with transaction(db.sessions) as session:
        row = session.scalars(select(AccessToken)).one()
    assert row.name == "wecom:wwduban00000001:1000002" and row.expires_at == clock.now() + timedelta(hours=2)


def test_concurrent_sends_in_one_process_fetch_one_token(db: Database, clock: ManualClock, qyapi: FakeQyapi) -> None:
    async def burst(senders: Senders) -> set[SendStatus]:
        results = await asyncio.gather(*(senders["wecom_app"].send(to_user("MaQiang", str(n))) for n in range(5)))
        return {r.status for r in results}

    assert with_senders(db, clock, qyapi, burst) == {SendStatus.OK}
    assert len(qyapi.calls(GETTOKEN)) == 1


def test_a_token_near_its_expiry_is_refreshed_before_use(db: Database, clock: ManualClock, qyapi: FakeQyapi) -> None:
    async def one(senders: Senders) -> SendStatus:
        return (await senders["wecom_app"].send(to_user("MaQiang", "你好"))).status

    with_senders(db, clock, qyapi, one)
    clock.advance(timedelta(hours=1, minutes=54))  # 6 minutes left: still used
    with_senders(db, clock, qyapi, one)
    clock.advance(timedelta(minutes=2))  # 4 minutes left: refreshed first, no refused call
    assert with_senders(db, clock, qyapi, one) is SendStatus.OK
    assert [c.query["access_token"] for c in qyapi.calls(MESSAGE_SEND)] == ["TOKEN-1", "TOKEN-1", "TOKEN-2"]


@pytest.mark.parametrize("refusal", [42001, 40014, 40001])
def test_a_refused_token_is_replaced_and_the_message_sent_once(
    refusal: int, db: Database, clock: ManualClock, qyapi: FakeQyapi
) -> None:
    async def one(senders: Senders) -> SendStatus:
        return (await senders["wecom_app"].send(to_user("MaQiang", "你好"))).status

    with_senders(db, clock, qyapi, one)
    qyapi.fail_next(MESSAGE_SEND, {"errcode": refusal, "errmsg": "token refused"})
    assert with_senders(db, clock, qyapi, one) is SendStatus.OK
    assert [c.query["access_token"] for c in qyapi.calls(MESSAGE_SEND)] == ["TOKEN-1", "TOKEN-1", "TOKEN-2"]
    assert len(qyapi.calls(GETTOKEN)) == 2


def test_expiry_on_wecoms_side_is_noticed_through_42001(db: Database, clock: ManualClock, qyapi: FakeQyapi) -> None:
    async def two(senders: Senders) -> list[SendStatus]:
        first = await senders["wecom_app"].send(to_user("MaQiang", "一"))
        qyapi.expire_tokens()
        second = await senders["wecom_app"].send(to_user("MaQiang", "二"))
        return [first.status, second.status]

    assert with_senders(db, clock, qyapi, two) == [SendStatus.OK, SendStatus.OK]
    answered = [(c.query["access_token"], c.json["text"]["content"]) for c in qyapi.calls(MESSAGE_SEND) if c.json]
    assert answered == [("TOKEN-1", "一"), ("TOKEN-1", "二"), ("TOKEN-2", "二")]


def test_a_token_another_process_replaced_is_taken_from_the_database(
    db: Database, clock: ManualClock, qyapi: FakeQyapi
) -> None:
    """Each process remembers the token it read; when WeCom refuses that copy because another process already
    replaced it, the replacement comes from the database — no second gettoken, nothing sent twice."""

    async def two_processes() -> list[SendStatus]:
        async with httpx.AsyncClient(timeout=5) as http:
            settings = wecom_settings(db, qyapi)

            def app_sender() -> Sender:
                return next(s for s in build_senders(settings, db.sessions, clock, http) if "wecom_app" in s.channels)

            first, second = app_sender(), app_sender()
            statuses = [(await first.send(to_user("MaQiang", "一"))).status]
            qyapi.expire_tokens()
            statuses.append((await second.send(to_user("MaQiang", "二"))).status)  # refused, fetches TOKEN-2
            statuses.append((await first.send(to_user("MaQiang", "三"))).status)  # its TOKEN-1 refused
            return statuses

    assert asyncio.run(two_processes()) == [SendStatus.OK] * 3
    assert len(qyapi.calls(GETTOKEN)) == 2
    answered = [(c.query["access_token"], c.json["text"]["content"]) for c in qyapi.calls(MESSAGE_SEND) if c.json]
    assert answered == [("TOKEN-1", "一"), ("TOKEN-1", "二"), ("TOKEN-2", "二"), ("TOKEN-1", "三"), ("TOKEN-2", "三")]


def test_a_wrong_secret_is_a_permanent_failure(db: Database, clock: ManualClock, qyapi: FakeQyapi) -> None:
    async def one(senders: Senders) -> tuple[SendStatus, str]:
        result = await senders["wecom_app"].send(to_user("MaQiang", "你好"))
        return result.status, result.detail

    status, detail = with_senders(db, clock, qyapi, one, wecom_secret="wrong")
    assert status is SendStatus.PERMANENT and "gettoken: errcode 40001" in detail
    assert qyapi.calls(MESSAGE_SEND) == []


# --- message/send -----------------------------------------------------------------------------------------


def test_text_and_markdown_app_messages(db: Database, clock: ManualClock, qyapi: FakeQyapi) -> None:
    async def both(senders: Senders) -> None:
        await senders["wecom_app"].send(to_user("WangFang", "请于周五12:00前报送周报"))
        await senders["wecom_app"].send(to_user("WangFang", "plain", markdown="**周报**提醒", key="weekly:29:WangFang"))

    with_senders(db, clock, qyapi, both)
    text, markdown = (c.json for c in qyapi.calls(MESSAGE_SEND))
    assert text == {
        "touser": "WangFang",
        "agentid": 1000002,
        "msgtype": "text",
        "text": {"content": "请于周五12:00前报送周报"},
    }
    assert markdown is not None and markdown["msgtype"] == "markdown"
    assert markdown["markdown"] == {"content": "**周报**提醒"}
    assert markdown["enable_duplicate_check"] == 1  # an outbox row retried after a partial send is not doubled


def test_long_text_is_split_at_wecoms_byte_limit(db: Database, clock: ManualClock, qyapi: FakeQyapi) -> None:
    text = "\n".join(f"{n}. 耕地保护科：卫片执法检查发现的问题尚未整改，请于9月10日前完成" for n in range(70))

    async def one(senders: Senders) -> str:
        return (await senders["wecom_app"].send(to_user("YuJianKui", text))).detail

    assert len(text.encode()) > 3 * 2048
    assert with_senders(db, clock, qyapi, one) == "message/send: 4 条"
    parts = [c.json["text"]["content"] for c in qyapi.calls(MESSAGE_SEND) if c.json]
    assert len(parts) == 4 and "".join(parts) == text and all(len(p.encode()) <= 2048 for p in parts)


def test_rate_limit_45009_is_retryable_after_a_minute(db: Database, clock: ManualClock, qyapi: FakeQyapi) -> None:
    qyapi.fail_next(MESSAGE_SEND, {"errcode": 45009, "errmsg": "api freq out of limit"})

    async def one(senders: Senders) -> tuple[SendStatus, float | None, str]:
        result = await senders["wecom_app"].send(to_user("MaQiang", "你好"))
        return result.status, result.retry_after, result.detail

    status, retry_after, detail = with_senders(db, clock, qyapi, one)
    assert (status, retry_after) == (SendStatus.RETRYABLE, 60.0) and "45009" in detail
    assert len(qyapi.calls(MESSAGE_SEND)) == 1  # no hammering: the delivery worker waits


def test_gettoken_rate_limit_is_retryable(db: Database, clock: ManualClock, qyapi: FakeQyapi) -> None:
    qyapi.fail_next(GETTOKEN, {"errcode": 45009, "errmsg": "api freq out of limit"})

    async def one(senders: Senders) -> SendStatus:
        return (await senders["wecom_app"].send(to_user("MaQiang", "你好"))).status

    assert with_senders(db, clock, qyapi, one) is SendStatus.RETRYABLE
    assert with_senders(db, clock, qyapi, one) is SendStatus.OK


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ({"errcode": 81013, "errmsg": "user & party & tag all invalid"}, SendStatus.PERMANENT),
        ({"errcode": 0, "errmsg": "ok", "invaliduser": "ghost"}, SendStatus.PERMANENT),
        ({"errcode": 60020, "errmsg": "not allow to access from your ip"}, SendStatus.RETRYABLE),
        ({"errcode": -1, "errmsg": "system busy"}, SendStatus.RETRYABLE),
    ],
)
def test_refusals_are_classified(
    answer: dict[str, object], expected: SendStatus, db: Database, clock: ManualClock, qyapi: FakeQyapi
) -> None:
    qyapi.fail_next(MESSAGE_SEND, answer)

    async def one(senders: Senders) -> SendStatus:
        return (await senders["wecom_app"].send(to_user("ghost", "你好"))).status

    assert with_senders(db, clock, qyapi, one) is expected


def test_an_unreachable_api_is_retryable(db: Database, clock: ManualClock, qyapi: FakeQyapi) -> None:
    async def one(senders: Senders) -> tuple[SendStatus, str]:
        result = await senders["wecom_app"].send(to_user("MaQiang", "你好"))
        return result.status, result.detail

    status, detail = with_senders(db, clock, qyapi, one, wecom_api_base="http://127.0.0.1:1")
    assert status is SendStatus.RETRYABLE and "网络错误" in detail


def test_without_app_settings_only_the_robot_sender_is_built(
    db: Database, clock: ManualClock, qyapi: FakeQyapi
) -> None:
    async def channels(senders: Senders) -> set[str]:
        return set(senders)

    assert with_senders(db, clock, qyapi, channels, wecom_secret=None) == {"wecom_robot"}
    assert with_senders(db, clock, qyapi, channels) == {"wecom_robot", "wecom_app"}


# --- group robots -------------------------------------------------------------------------------------


def test_robot_text_mentions_mobiles_and_goes_to_the_configured_api_base(
    db: Database, clock: ManualClock, qyapi: FakeQyapi
) -> None:
    nudge = "【专项整治联系人】6月10日截止，尚未报送：办公室、法制科"

    async def one(senders: Senders) -> SendStatus:
        return (
            await senders["wecom_robot"].send(
                to_group(nudge, mentions=("13909550001", "13909551234"), markdown="**截止提醒**")
            )
        ).status

    assert with_senders(db, clock, qyapi, one) is SendStatus.OK
    (call,) = qyapi.calls(WEBHOOK_SEND)  # the webhook's qyapi host was replaced by DUBAN_WECOM_API_BASE
    assert call.query == {"key": ROBOT_KEY}
    assert call.json == {
        "msgtype": "text",
        "text": {"content": nudge, "mentioned_mobile_list": ["13909550001", "13909551234"]},
    }


def test_robot_markdown_without_mentions(db: Database, clock: ManualClock, qyapi: FakeQyapi) -> None:
    async def one(senders: Senders) -> SendStatus:
        return (await senders["wecom_robot"].send(to_group("plain", markdown="## 本周周报\n> 已报送 3/4"))).status

    assert with_senders(db, clock, qyapi, one) is SendStatus.OK
    assert qyapi.calls(WEBHOOK_SEND)[0].json == {
        "msgtype": "markdown",
        "markdown": {"content": "## 本周周报\n> 已报送 3/4"},
    }


def test_a_long_robot_text_mentions_once_under_the_last_part(
    db: Database, clock: ManualClock, qyapi: FakeQyapi
) -> None:
    text = "\n".join(f"{n}. 未报送单位：自然资源调查监测科" for n in range(80))

    async def one(senders: Senders) -> SendStatus:
        return (await senders["wecom_robot"].send(to_group(text, mentions=("13909550001",)))).status

    assert with_senders(db, clock, qyapi, one) is SendStatus.OK
    bodies = [c.json["text"] for c in qyapi.calls(WEBHOOK_SEND) if c.json]
    assert len(bodies) > 1 and "".join(b["content"] for b in bodies) == text
    assert [b.get("mentioned_mobile_list") for b in bodies][-1] == ["13909550001"]
    assert all("mentioned_mobile_list" not in b for b in bodies[:-1])


@pytest.mark.parametrize(
    ("answer", "expected", "retry_after"),
    [
        ({"errcode": 45009, "errmsg": "api freq out of limit"}, SendStatus.RETRYABLE, 60.0),
        ({"errcode": 93000, "errmsg": "invalid webhook url"}, SendStatus.PERMANENT, None),
    ],
)
def test_robot_errors_in_an_http_200_body_are_failures(
    answer: dict[str, object],
    expected: SendStatus,
    retry_after: float | None,
    db: Database,
    clock: ManualClock,
    qyapi: FakeQyapi,
) -> None:
    qyapi.fail_next(WEBHOOK_SEND, answer)

    async def one(senders: Senders) -> tuple[SendStatus, float | None]:
        result = await senders["wecom_robot"].send(to_group("提醒"))
        return result.status, result.retry_after

    assert with_senders(db, clock, qyapi, one) == (expected, retry_after)


def test_a_robot_without_a_key_or_with_a_revoked_one_is_permanent(
    db: Database, clock: ManualClock, qyapi: FakeQyapi
) -> None:
    async def both(senders: Senders) -> list[SendStatus]:
        missing = await senders["wecom_robot"].send(to_group("提醒", address="https://qyapi.weixin.qq.com/x"))
        revoked = await senders["wecom_robot"].send(to_group("提醒", address="revoked-key"))
        return [missing.status, revoked.status]

    assert with_senders(db, clock, qyapi, both) == [SendStatus.PERMANENT, SendStatus.PERMANENT]
    assert [c.query for c in qyapi.calls(WEBHOOK_SEND)] == [{"key": "revoked-key"}]


def test_webhook_key_is_read_from_a_url_or_taken_as_is() -> None:
    assert webhook_key(WEBHOOK) == ROBOT_KEY
    assert webhook_key(" 693a91f6-7xxx ") == "693a91f6-7xxx"
    assert webhook_key("https://qyapi.weixin.qq.com/cgi-bin/webhook/send") is None
    assert webhook_key(None) is None


# --- splitting -----------------------------------------------------------------------------------------


@given(st.text(alphabet=st.sampled_from("督办a1\n 。😀"), max_size=3000), st.integers(min_value=4, max_value=64))
def test_split_by_bytes_keeps_every_character_within_the_limit(text: str, limit: int) -> None:
    parts = split_by_bytes(text, limit)
    assert "".join(parts) == text
    assert all(0 < len(p.encode()) <= limit for p in parts)


def test_split_prefers_line_ends() -> None:
    assert split_by_bytes("第一行\n第二行\n", 20) == ["第一行\n第二行\n"]
    assert split_by_bytes("第一行\n第二行\n", 12) == ["第一行\n", "第二行\n"]
