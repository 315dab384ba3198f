"""The long connection against the fake gateway: authentication, heartbeat, the silence watchdog, reconnects and
their back-off, replies and proactive messages. Time is a ManualClock moved in steps; only loopback I/O is real.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest

from bot.wecom_robot import protocol
from bot.wecom_robot.connection import Liveness, LongConnection, NotConnected, RobotError, cancel_and_wait
from tests.bot.wecom_robot.conftest import SLACK, ManualTiming
from tests.bot.wecom_robot.fake_server import BOT_ID, INVALID_REQ_ID, SECRET, FakeRobotServer, text_message


def scenario(work: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(work())  # type: ignore[arg-type]


@asynccontextmanager
async def connection(
    fake: FakeRobotServer,
    timing: ManualTiming,
    *,
    secret: str = SECRET,
    liveness: Liveness | None = None,
    on_callback: Callable[[protocol.Frame], Awaitable[None]] | None = None,
) -> AsyncIterator[LongConnection]:
    async def ignore(_frame: protocol.Frame) -> None:
        return None

    robot = LongConnection(
        url=fake.url, bot_id=BOT_ID, secret=secret, on_callback=on_callback or ignore, timing=timing, liveness=liveness
    )
    running = asyncio.create_task(robot.run())
    try:
        yield robot
    finally:
        await cancel_and_wait(running)


def subscribed(fake: FakeRobotServer, count: int) -> Callable[[], bool]:
    return lambda: len(fake.frames(protocol.SUBSCRIBE)) >= count


def test_it_authenticates_with_the_bot_id_and_secret(fake_robot: FakeRobotServer, timing: ManualTiming) -> None:
    async def work() -> None:
        async with connection(fake_robot, timing) as robot:
            await timing.run_until(robot.authenticated.is_set)
        [subscribe] = fake_robot.frames(protocol.SUBSCRIBE)
        assert subscribe["body"] == {"bot_id": BOT_ID, "secret": SECRET}
        assert subscribe["headers"]["req_id"].startswith("aibot_subscribe_")

    scenario(work)


def test_a_refused_authentication_is_retried_only_after_a_long_back_off(
    fake_robot: FakeRobotServer, timing: ManualTiming
) -> None:
    async def work() -> None:
        async with connection(fake_robot, timing, secret="wrong") as robot:
            await timing.run_until(subscribed(fake_robot, 1))
            waits = [await timing.run_until(subscribed(fake_robot, n), step=5) for n in (2, 3, 4)]
            assert not robot.authenticated.is_set()
        # Doubling from a minute: a wrong secret is not hammered against WeCom every second.
        assert all(expected <= wait <= expected + SLACK for wait, expected in zip(waits, (60, 120, 240), strict=True))

    scenario(work)


def test_unanswered_heartbeats_replace_the_connection(fake_robot: FakeRobotServer, timing: ManualTiming) -> None:
    async def work() -> None:
        # The watchdog is set far off, so it is the heartbeat rule that acts here.
        async with connection(fake_robot, timing, liveness=Liveness(silence_limit=10_000)) as robot:
            await timing.run_until(robot.authenticated.is_set)
            await timing.run_until(lambda: len(fake_robot.frames(protocol.PING)) == 1)
            assert fake_robot.live()[0].authenticated  # answered pings keep it
            fake_robot.answer_pings = False
            lost_after = await timing.run_until(subscribed(fake_robot, 2))
            await timing.run_until(robot.authenticated.is_set)
        # The next two pings go unanswered; at the beat after them the connection is replaced, a second later.
        assert 90 <= lost_after <= 91 + SLACK
        assert len(fake_robot.connections) == 2 and not fake_robot.connections[0].open

    scenario(work)


def test_answered_heartbeats_keep_the_connection(fake_robot: FakeRobotServer, timing: ManualTiming) -> None:
    async def work() -> None:
        async with connection(fake_robot, timing) as robot:
            await timing.run_until(robot.authenticated.is_set)
            await timing.run_until(lambda: len(fake_robot.frames(protocol.PING)) >= 10, step=5)
        assert len(fake_robot.connections) == 1

    scenario(work)


def test_a_silent_connection_is_replaced_by_the_watchdog(fake_robot: FakeRobotServer, timing: ManualTiming) -> None:
    async def work() -> None:
        fake_robot.answer_subscribe = False  # open, but WeCom never says a word
        async with connection(fake_robot, timing) as robot:
            await timing.run_until(subscribed(fake_robot, 1))
            replaced_after = await timing.run_until(subscribed(fake_robot, 2))
            fake_robot.answer_subscribe = True
            await timing.run_until(robot.authenticated.is_set)
        assert 75 <= replaced_after <= 75 + SLACK
        assert not fake_robot.connections[0].open

    scenario(work)


def test_a_dropped_connection_is_reopened_at_once(fake_robot: FakeRobotServer, timing: ManualTiming) -> None:
    async def work() -> None:
        async with connection(fake_robot, timing) as robot:
            await timing.run_until(robot.authenticated.is_set)
            fake_robot.drop()
            reopened_after = await timing.run_until(subscribed(fake_robot, 2))
            await timing.run_until(robot.authenticated.is_set)
        assert reopened_after <= 1 + SLACK

    scenario(work)


def test_a_takeover_by_another_connection_waits_before_taking_it_back(
    fake_robot: FakeRobotServer, timing: ManualTiming
) -> None:
    async def work() -> None:
        async with connection(fake_robot, timing) as robot:
            await timing.run_until(robot.authenticated.is_set)
            fake_robot.push(
                {
                    "msgid": "EVT1",
                    "aibotid": BOT_ID,
                    "from": {"userid": "sys"},
                    "msgtype": "event",
                    "event": {"eventtype": "disconnected_event"},
                },
                event=True,
            )
            back_after = await timing.run_until(subscribed(fake_robot, 2))
        assert 60 <= back_after <= 60 + SLACK

    scenario(work)


def test_replies_and_proactive_messages_wait_for_wecom_s_answer(
    fake_robot: FakeRobotServer, timing: ManualTiming
) -> None:
    callbacks: list[protocol.Frame] = []

    async def record(frame: protocol.Frame) -> None:
        callbacks.append(frame)

    async def work() -> None:
        async with connection(fake_robot, timing, on_callback=record) as robot:
            await timing.run_until(robot.authenticated.is_set)
            req_id = fake_robot.push(text_message("LuHeJian", "帮助"))
            await timing.run_until(lambda: bool(callbacks))
            # Two frames for one req_id at once go one after the other, each after WeCom's answer to the first.
            await asyncio.gather(
                robot.respond(req_id, protocol.stream_body("s1", "好", finish=False)),
                robot.respond(req_id, protocol.stream_body("s1", "好的", finish=True)),
            )
            await robot.send("wrkSFfCgAAxxxx", protocol.markdown_body("提醒"))
            with pytest.raises(RobotError) as refused:
                await robot.respond("callback-never-issued", protocol.stream_body("s2", "迟到", finish=True))
            assert refused.value.errcode == INVALID_REQ_ID
        [callback] = callbacks
        assert callback.req_id == req_id and callback.body["text"]["content"] == "帮助"
        [sent] = fake_robot.frames(protocol.SEND)
        assert sent["body"] == {"chatid": "wrkSFfCgAAxxxx", "msgtype": "markdown", "markdown": {"content": "提醒"}}
        assert fake_robot.replies() == ["好的", "提醒", "迟到"]

    scenario(work)


def test_sending_without_a_connection_says_so(fake_robot: FakeRobotServer, timing: ManualTiming) -> None:
    async def work() -> None:
        fake_robot.answer_subscribe = False
        async with connection(fake_robot, timing) as robot:
            await timing.run_until(subscribed(fake_robot, 1))
            with pytest.raises(NotConnected):
                await robot.send("LuHeJian", protocol.markdown_body("提醒"))

    scenario(work)


def test_malformed_frames_are_skipped(fake_robot: FakeRobotServer, timing: ManualTiming) -> None:
    callbacks: list[Any] = []

    async def record(frame: protocol.Frame) -> None:
        callbacks.append(frame)

    async def work() -> None:
        async with connection(fake_robot, timing, on_callback=record) as robot:
            await timing.run_until(robot.authenticated.is_set)
            live = fake_robot.live()[0]
            for junk in ("not json", "[1, 2]", '{"cmd": "aibot_msg_callback"}'):
                fake_robot._run(live.ws.send(junk))
            fake_robot.push(text_message("LuHeJian", "帮助"))
            await timing.run_until(lambda: bool(callbacks))
        assert len(callbacks) == 1 and len(fake_robot.connections) == 1

    scenario(work)
