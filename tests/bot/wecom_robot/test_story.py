"""The campaign's conversation over the 智能机器人, end to end through the fake gateway: a liaison registers in
the work group, logs an issue one to one (confirming a questioned date with a button), reports progress typed
and dictated, sends the weekly report in the group, and the coordinator reads the 汇总 there."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from core.clock import ManualClock
from storage.db import transaction
from storage.models import Issue, IssueStatus, WeeklyReport
from tests.bot.test_sim_stories import FULL_ISSUE, REGISTER_LU, count
from tests.bot.wecom_robot.conftest import ManualTiming
from tests.bot.wecom_robot.fake_server import FakeRobotServer, click, text_message
from tests.bot.wecom_robot.test_channel import GROUP, robot, scenario
from tests.conftest import Database


class RobotChat:
    """Says something to the robot as a user would, and returns what the robot answered to it."""

    def __init__(self, fake: FakeRobotServer, timing: ManualTiming) -> None:
        self.fake, self.timing = fake, timing

    async def _next_reply(self, push: Any) -> str:
        before = len(self.fake.replies())
        push()
        await self.timing.run_until(lambda: len(self.fake.replies()) > before, step=0.01, limit=30)
        await self.timing.advance(0.05)  # a card, if any, follows its reply
        return self.fake.replies()[-1]

    async def say(self, user: str, text: str, *, group: str | None = None) -> str:
        return await self._next_reply(lambda: self.fake.push(text_message(user, text, group=group)))

    async def speak(self, user: str, said: str) -> str:
        voice = text_message(user, "x") | {"msgtype": "voice", "voice": {"content": said}}
        return await self._next_reply(lambda: self.fake.push(voice))

    async def press(self, user: str, label: str) -> str:
        card = self.fake.cards()[-1]
        return await self._next_reply(lambda: self.fake.push(click(user, card, label), event=True))


def test_a_liaisons_campaign_over_the_robot(
    plan_loaded: Database, clock: ManualClock, fake_robot: FakeRobotServer, timing: ManualTiming
) -> None:
    async def work() -> None:
        async with robot(plan_loaded, clock, fake_robot, timing):
            chat = RobotChat(fake_robot, timing)
            # In the work group: registration, addressed to the bot; chatter that is not, ignored.
            fake_robot.push(text_message("MaQiang", "收到，下午开会", group=GROUP))
            registered = await chat.say("LuHeJian", "@督办\u2005" + REGISTER_LU, group=GROUP)
            assert registered.startswith("<@LuHeJian>\n登记成功")

            # One to one: an issue whose 完成时限 is already past — the bot asks, a button confirms.
            asked = await chat.say("LuHeJian", FULL_ISSUE.replace("9月10日前", "7月1日"))
            assert "早于今天" in asked and count(plan_loaded, Issue) == 0
            assert "已登记问题 #1" in await chat.press("LuHeJian", "确认")

            # Progress typed as on a phone, then dictated: the dictation waits for its confirmation.
            assert "整改中 60%" in await chat.say("LuHeJian", "进展1，60%，已完成证件审验")
            assert (await chat.speak("LuHeJian", "一号问题已整改。")).startswith("我听到的是：一号问题已整改。")
            assert "已整改" in await chat.press("LuHeJian", "确认")

            # The weekly report in the group, and the coordinator's 汇总 there.
            report = await chat.say("LuHeJian", "@督办 周报：本周完成执法案卷评查3件，补办证件3本", group=GROUP)
            assert report.startswith("<@LuHeJian>\n") and "已收到「法制科」第29周周报" in report
            summary = await chat.say("YuJianKui", "@督办 汇总", group=GROUP)
            assert summary.startswith("<@YuJianKui>\n### 【行政执法不作为慢作为乱作为专项整治】汇总")
            assert "**问题**：共 1 个，未整改 0，整改中 0，已整改 1，逾期 0" in summary
            assert "**本周周报（第29周）**：1/4 个单位已报送；未报送：办公室、执法监察支队、耕地保护科" in summary

    scenario(work)
    with transaction(plan_loaded.sessions) as session:
        assert session.scalars(select(Issue.status)).one() is IssueStatus.RECTIFIED
        assert len(session.scalars(select(WeeklyReport)).all()) == 1
    assert len(fake_robot.replies()) == 8  # the group chatter got no answer
