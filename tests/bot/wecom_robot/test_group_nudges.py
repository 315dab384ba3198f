"""A work group reached through the 智能机器人 as a plan `groups:` target: deadline nudges go out as proactive
messages on the long connection, sent by the process that holds it, and wait in the outbox while none does."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.wecom_robot import protocol
from bot.wecom_robot.sender import RobotSender
from core.clock import ManualClock
from plan.schema import PlanError, read_plan
from plan.sync import load_plan
from scheduler.delivery import DeliveryWorker
from scheduler.engine import ReminderEngine
from scheduler.outbound import SimulatorSender
from storage.db import transaction
from storage.models import Group, OutboxMessage, OutboxStatus
from tests.bot.wecom_robot.conftest import ManualTiming
from tests.bot.wecom_robot.fake_server import FakeRobotServer
from tests.bot.wecom_robot.test_channel import GROUP, robot
from tests.conftest import FIXTURES, Database, at

SIM_GROUP = "{name: 专项整治工作群, channel: sim}"


def plan_with_group(tmp_path: Path, group: str) -> Path:
    path = tmp_path / "plan.yaml"
    path.write_text((FIXTURES / "plan.yaml").read_text(encoding="utf-8").replace(SIM_GROUP, group), encoding="utf-8")
    return path


@pytest.fixture
def robot_group_plan(db: Database, clock: ManualClock, tmp_path: Path) -> Database:
    plan = plan_with_group(tmp_path, f"{{name: 专项整治工作群, channel: wecom_aibot, chatid: {GROUP}}}")
    with transaction(db.sessions) as session:
        load_plan(session, read_plan(plan), now=clock.now())
    return db


def test_a_robot_group_needs_its_chatid_and_webhook_groups_still_need_their_webhook(tmp_path: Path) -> None:
    with pytest.raises(PlanError, match="wecom_aibot 群需要填写 chatid"):
        read_plan(plan_with_group(tmp_path, "{name: 专项整治工作群, channel: wecom_aibot}"))
    with pytest.raises(PlanError, match="wecom_robot 群需要填写 webhook"):
        read_plan(plan_with_group(tmp_path, "{name: 专项整治工作群, channel: wecom_robot}"))


def outbox(db: Database) -> list[OutboxMessage]:
    with transaction(db.sessions) as session:
        return list(session.scalars(select(OutboxMessage).where(OutboxMessage.channel == "wecom_aibot")))


def test_a_deadline_nudge_reaches_the_group_through_the_robot_connection(
    robot_group_plan: Database, clock: ManualClock, fake_robot: FakeRobotServer, timing: ManualTiming
) -> None:
    with transaction(robot_group_plan.sessions) as session:
        assert session.scalars(select(Group.webhook)).one() == GROUP  # the group's address is its chatid
    engine = ReminderEngine(robot_group_plan.sessions, clock=clock, route=lambda _platform: "sim")

    async def work() -> None:
        async with robot(robot_group_plan, clock, fake_robot, timing) as channel:
            worker = DeliveryWorker(
                robot_group_plan.sessions,
                {"sim": SimulatorSender(), "wecom_aibot": RobotSender(channel.connection)},
                clock=clock,
            )
            clock.set(at("2020-09-23 09:01"))  # 行政裁量基准 is due 09-30: seven days' notice
            engine.tick()
            await worker.drain()

    asyncio.run(work())
    [sent] = fake_robot.frames(protocol.SEND)
    assert sent["body"]["chatid"] == GROUP and sent["body"]["msgtype"] == "markdown"
    assert "还有7天截止" in sent["body"]["markdown"]["content"]
    assert "未报送的单位（2个）：执法监察支队、法制科" in sent["body"]["markdown"]["content"]
    assert [row.status for row in outbox(robot_group_plan)] == [OutboxStatus.SENT]


def test_a_process_without_the_connection_leaves_the_nudge_for_the_holder(
    robot_group_plan: Database, clock: ManualClock, fake_robot: FakeRobotServer, timing: ManualTiming
) -> None:
    engine = ReminderEngine(robot_group_plan.sessions, clock=clock, route=lambda _platform: "sim")

    async def work() -> None:
        async with robot(robot_group_plan, clock, fake_robot, timing) as holding:
            elsewhere = RobotSender(
                type(holding.connection)(url=fake_robot.url, bot_id="x", secret="y", on_callback=holding.on_callback)
            )
            standby = DeliveryWorker(robot_group_plan.sessions, {"wecom_aibot": elsewhere}, clock=clock)
            clock.set(at("2020-09-23 09:01"))
            engine.tick()
            await standby.drain()
            [row] = outbox(robot_group_plan)
            assert row.status is OutboxStatus.PENDING and "does not hold" in (row.last_error or "")
            assert fake_robot.frames(protocol.SEND) == []
            clock.advance(timedelta(hours=1))  # past the retry's back-off
            holder = DeliveryWorker(
                robot_group_plan.sessions, {"wecom_aibot": RobotSender(holding.connection)}, clock=clock
            )
            await holder.drain()

    asyncio.run(work())
    assert [row.status for row in outbox(robot_group_plan)] == [OutboxStatus.SENT]
    assert len(fake_robot.frames(protocol.SEND)) == 1
