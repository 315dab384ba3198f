"""One live connection per bot in a deployment: of the processes that may hold it, one does; when it stops, a
standby connects at its next election. Two holders in one test stand for two scheduler processes (each has
its own database session or lock-file handle, as two processes would)."""

from __future__ import annotations

import asyncio

from fastapi.testclient import TestClient

from bot.app import create_app
from bot.services import build_services
from bot.wecom_robot import ELECTION_SECONDS, ConnectionHolder, RobotChannel, lock_key
from bot.wecom_robot.connection import cancel_and_wait
from core.clock import ManualClock
from scheduler.leader import leadership_for
from tests.bot.wecom_robot.conftest import SLACK, ManualTiming, robot_settings
from tests.bot.wecom_robot.fake_server import BOT_ID, FakeRobotServer, text_message
from tests.conftest import Database


def test_one_holder_connects_and_a_standby_takes_over_when_it_stops(
    plan_loaded: Database, clock: ManualClock, fake_robot: FakeRobotServer, timing: ManualTiming
) -> None:
    services = build_services(robot_settings(plan_loaded, fake_robot), clock)

    def holder() -> ConnectionHolder:
        leadership = leadership_for(plan_loaded.url, name="wecom-robot", key=lock_key(BOT_ID))
        return ConnectionHolder(RobotChannel(services, timing=timing), leadership, timing=timing)

    def connected() -> bool:
        return any(c.authenticated for c in fake_robot.live())

    async def work() -> None:
        first, second = holder(), holder()
        running_first = asyncio.create_task(first.run())
        await timing.run_until(connected)
        running_second = asyncio.create_task(second.run())
        for _ in range(4 * int(ELECTION_SECONDS)):  # four elections: the standby stays a standby
            await timing.advance(1)
            assert len(fake_robot.live()) == 1 and not second.holding
        await cancel_and_wait(running_first)  # the holder's process stops; its lock goes with it
        fake_robot.wait_for(lambda: not fake_robot.connections[0].open)
        took_over_after = await timing.run_until(lambda: len(fake_robot.connections) == 2 and connected())
        assert second.holding and [c.open for c in fake_robot.connections] == [False, True]
        await cancel_and_wait(running_second)
        assert took_over_after <= ELECTION_SECONDS + SLACK

    asyncio.run(work())


def test_duban_serve_with_the_robot_settings_connects_and_answers(
    plan_loaded: Database, clock: ManualClock, fake_robot: FakeRobotServer
) -> None:
    settings = robot_settings(plan_loaded, fake_robot, scheduler="on")
    with TestClient(create_app(settings, clock=clock)):
        fake_robot.wait_for(lambda: any(c.authenticated for c in fake_robot.connections))
        fake_robot.push(text_message("LuHeJian", "帮助"))
        fake_robot.wait_for(lambda: bool(fake_robot.replies()))
    [reply] = fake_robot.replies()
    assert "您的身份：未登记用户" in reply


def test_a_web_replica_leaves_the_connection_to_the_scheduler_processes(
    plan_loaded: Database, clock: ManualClock, fake_robot: FakeRobotServer
) -> None:
    settings = robot_settings(plan_loaded, fake_robot, scheduler="off")
    with TestClient(create_app(settings, clock=clock)) as client:
        assert client.get("/healthz").status_code == 200
    assert fake_robot.connections == []
