"""Conversations over the robot's long connection: what reaches the fake gateway, and what the database keeps."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from itertools import pairwise

from bot.services import build_services
from bot.wecom import texts
from bot.wecom_robot import protocol
from bot.wecom_robot.channel import STREAM_STEP_BYTES, RobotChannel
from bot.wecom_robot.connection import cancel_and_wait
from bot.wecom_robot.inbound import Chat
from core.clock import ManualClock
from handlers.message import Reply
from storage.models import Issue, Material, ProcessedMessage
from tests.bot.test_sim_stories import FULL_ISSUE, REGISTER_LU, count
from tests.bot.wecom_robot.conftest import ManualTiming, robot_settings
from tests.bot.wecom_robot.fake_server import FakeMediaHost, FakeRobotServer, encrypt, event, new_aes_key, text_message
from tests.conftest import Database
from tests.materials import JPG

GROUP = "wrkSFfCgAA01"


@asynccontextmanager
async def robot(
    db: Database, clock: ManualClock, fake: FakeRobotServer, timing: ManualTiming
) -> AsyncIterator[RobotChannel]:
    channel = RobotChannel(build_services(robot_settings(db, fake), clock), timing=timing)
    running = asyncio.create_task(channel.connection.run())
    try:
        await timing.run_until(channel.connection.authenticated.is_set)
        yield channel
    finally:
        await cancel_and_wait(running)


def replies_reach(fake: FakeRobotServer, timing: ManualTiming, n: int) -> Awaitable[float]:
    return timing.run_until(lambda: len(fake.replies()) >= n, step=0.01, limit=30)


def scenario(work: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(work())  # type: ignore[arg-type]


def test_a_one_to_one_message_is_answered_on_its_req_id(
    plan_loaded: Database, clock: ManualClock, fake_robot: FakeRobotServer, timing: ManualTiming
) -> None:
    async def work() -> None:
        async with robot(plan_loaded, clock, fake_robot, timing):
            req_id = fake_robot.push(text_message("LuHeJian", "帮助"))
            await replies_reach(fake_robot, timing, 1)
        [frame] = fake_robot.frames(protocol.RESPOND)
        assert frame["headers"]["req_id"] == req_id and frame["body"]["msgtype"] == "stream"
        assert "您的身份：未登记用户" in frame["body"]["stream"]["content"]

    scenario(work)


def test_in_a_group_the_bot_answers_when_mentioned_and_mentions_the_sender(
    plan_loaded: Database, clock: ManualClock, fake_robot: FakeRobotServer, timing: ManualTiming
) -> None:
    async def work() -> None:
        async with robot(plan_loaded, clock, fake_robot, timing):
            fake_robot.push(text_message("LuHeJian", "大家好，明天开会", group=GROUP))
            fake_robot.push(text_message("LuHeJian", "@督办\u2005" + REGISTER_LU, group=GROUP))
            await replies_reach(fake_robot, timing, 1)
            await timing.advance(1)
        [reply] = fake_robot.replies()
        assert reply.startswith("<@LuHeJian>\n") and "登记成功" in reply

    scenario(work)


def test_a_message_delivered_again_after_a_reconnect_is_handled_once(
    plan_loaded: Database, clock: ManualClock, fake_robot: FakeRobotServer, timing: ManualTiming
) -> None:
    issue = text_message("LuHeJian", FULL_ISSUE, msg_id="CAIQissue01")

    async def work() -> None:
        async with robot(plan_loaded, clock, fake_robot, timing) as channel:
            fake_robot.push(text_message("LuHeJian", REGISTER_LU))
            await replies_reach(fake_robot, timing, 1)
            fake_robot.push(issue)
            await replies_reach(fake_robot, timing, 2)
            fake_robot.drop()
            await timing.run_until(lambda: len(fake_robot.frames(protocol.SUBSCRIBE)) == 2)
            await timing.run_until(channel.connection.authenticated.is_set)
            fake_robot.push(issue)  # WeCom delivers it again on the new connection
            await replies_reach(fake_robot, timing, 3)
        first, again = fake_robot.replies()[1:]
        assert "已登记问题 #1" in first and again == first  # the same answer, from the record
        assert count(plan_loaded, Issue) == 1
        assert count(plan_loaded, ProcessedMessage, message_id="robot:CAIQissue01:LuHeJian") == 1

    scenario(work)


def test_the_same_msgid_from_another_sender_is_another_message(
    plan_loaded: Database, clock: ManualClock, fake_robot: FakeRobotServer, timing: ManualTiming
) -> None:
    async def work() -> None:
        async with robot(plan_loaded, clock, fake_robot, timing):
            fake_robot.push(text_message("LuHeJian", "帮助", msg_id="CAIQsame"))
            fake_robot.push(text_message("MaQiang", "帮助", msg_id="CAIQsame"))
            await replies_reach(fake_robot, timing, 2)
        assert count(plan_loaded, ProcessedMessage, platform="wecom") == 2

    scenario(work)


def test_entering_the_chat_gets_the_greeting_and_the_menu(
    plan_loaded: Database, clock: ManualClock, fake_robot: FakeRobotServer, timing: ManualTiming
) -> None:
    async def work() -> None:
        async with robot(plan_loaded, clock, fake_robot, timing):
            req_id = fake_robot.push(event("LuHeJian", "enter_chat"), event=True)
            await timing.run_until(lambda: bool(fake_robot.frames(protocol.RESPOND_WELCOME)), step=0.01, limit=30)
        [welcome] = fake_robot.frames(protocol.RESPOND_WELCOME)
        assert welcome["headers"]["req_id"] == req_id and welcome["body"]["msgtype"] == "text"
        assert (
            welcome["body"]["text"]["content"].startswith(texts.GREETING)
            and "可用指令" in welcome["body"]["text"]["content"]
        )

    scenario(work)


def test_a_picture_with_a_caption_is_decrypted_and_filed(
    plan_loaded: Database,
    clock: ManualClock,
    fake_robot: FakeRobotServer,
    timing: ManualTiming,
    media_host: FakeMediaHost,
) -> None:
    key = new_aes_key()
    url = media_host.put(encrypt(JPG, key), "整改后.jpg")
    mixed = text_message("MaQiang", "x") | {
        "msgtype": "mixed",
        "mixed": {
            "msg_item": [
                {"msgtype": "text", "text": {"content": "周报"}},
                {"msgtype": "image", "image": {"url": url, "aeskey": key}},
            ]
        },
    }

    async def work() -> None:
        async with robot(plan_loaded, clock, fake_robot, timing):
            fake_robot.push(mixed)
            await replies_reach(fake_robot, timing, 1)
        [reply] = fake_robot.replies()
        assert "已收到文件「整改后.jpg」" in reply and "周报的附件" in reply
        assert count(plan_loaded, Material) == 1

    scenario(work)


def test_a_picture_whose_download_fails_is_retried_then_reported(
    plan_loaded: Database,
    clock: ManualClock,
    fake_robot: FakeRobotServer,
    timing: ManualTiming,
    media_host: FakeMediaHost,
) -> None:
    picture = text_message("MaQiang", "x") | {
        "msgtype": "image",
        "image": {"url": f"{media_host.base_url}/media/gone", "aeskey": new_aes_key()},
    }

    async def work() -> None:
        async with robot(plan_loaded, clock, fake_robot, timing) as channel:
            channel.media_pauses = ()
            fake_robot.push(picture)
            await replies_reach(fake_robot, timing, 1)
        assert "没能从平台取到这个文件" in fake_robot.replies()[0]
        assert count(plan_loaded, Material) == 0

    scenario(work)


def test_a_malformed_callback_is_dropped_and_the_connection_stays(
    plan_loaded: Database, clock: ManualClock, fake_robot: FakeRobotServer, timing: ManualTiming
) -> None:
    async def work() -> None:
        async with robot(plan_loaded, clock, fake_robot, timing):
            fake_robot.push({"msgid": "CAIQbad", "msgtype": "text", "text": {"content": "帮助"}})  # no sender
            fake_robot.push(text_message("LuHeJian", "帮助"))
            await replies_reach(fake_robot, timing, 1)
        assert len(fake_robot.replies()) == 1 and len(fake_robot.connections) == 1

    scenario(work)


def test_a_long_reply_grows_in_steps_and_the_overflow_goes_to_the_chat(
    plan_loaded: Database, clock: ManualClock, fake_robot: FakeRobotServer, timing: ManualTiming
) -> None:
    lines = [f"{n:04d} 法制科 执法证件未按期年检，已整改" for n in range(1, 800)]

    async def work() -> None:
        async with robot(plan_loaded, clock, fake_robot, timing) as channel:
            req_id = fake_robot.push(text_message("YuJianKui", "@督办 逾期", group=GROUP))  # an issued req_id
            await replies_reach(fake_robot, timing, 1)
            await channel.deliver(req_id, Chat("m", "YuJianKui", GROUP, True), Reply.of("\n".join(lines)))
        frames = [f["body"]["stream"] for f in fake_robot.frames(protocol.RESPOND)][1:]
        assert len({f["id"] for f in frames}) == 1 and [f["finish"] for f in frames][-1:] == [True]
        assert len(frames) > 5 and not any(f["finish"] for f in frames[:-1])
        contents = [f["content"] for f in frames]
        assert all(a != b and b.startswith(a) for a, b in pairwise(contents))
        assert all(len(b.encode()) - len(a.encode()) <= STREAM_STEP_BYTES for a, b in pairwise(contents))
        overflow = fake_robot.frames(protocol.SEND)
        assert overflow and all(f["body"]["chatid"] == GROUP for f in overflow)
        whole = contents[-1] + "".join(f["body"]["markdown"]["content"] for f in overflow)
        assert whole == "<@YuJianKui>\n" + "\n".join(lines)
        assert len(contents[-1].encode()) <= protocol.STREAM_MAX_BYTES

    scenario(work)


def test_a_reply_whose_req_id_is_no_longer_valid_goes_to_the_chat(
    plan_loaded: Database, clock: ManualClock, fake_robot: FakeRobotServer, timing: ManualTiming
) -> None:
    async def work() -> None:
        async with robot(plan_loaded, clock, fake_robot, timing) as channel:
            # A req_id from before a reconnect: WeCom refuses it (846605), so the reply goes as a proactive message.
            await channel.deliver(
                "callback-from-the-old-connection", Chat("m", "LuHeJian", "LuHeJian", False), Reply.of("已登记问题 #1")
            )
        [sent] = fake_robot.frames(protocol.SEND)
        assert sent["body"] == {"chatid": "LuHeJian", "msgtype": "markdown", "markdown": {"content": "已登记问题 #1"}}

    scenario(work)


def test_the_robots_user_ids_are_the_apps_the_same_people_and_an_unknown_id_is_a_stranger(
    plan_loaded: Database, clock: ManualClock, fake_robot: FakeRobotServer, timing: ManualTiming
) -> None:
    async def work() -> None:
        async with robot(plan_loaded, clock, fake_robot, timing):
            fake_robot.push(text_message("MaQiang", "帮助"))  # the plan's wecom_userid, as the app knows him
            await replies_reach(fake_robot, timing, 1)
            fake_robot.push(text_message("wmExternal01", "帮助", group=GROUP) | {"text": {"content": "@督办 帮助"}})
            await replies_reach(fake_robot, timing, 2)
        known, unknown = fake_robot.replies()
        assert "您的身份：联络员（执法监察支队）" in known
        assert "您的身份：未登记用户" in unknown and "请先发送「登记」" in unknown

    scenario(work)
