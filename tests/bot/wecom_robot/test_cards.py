"""Cards with buttons where the conversation offers a choice, and what a click does: exactly the typed answer,
from the person asked, once — and voice messages, acted on only after their transcription is confirmed."""

from __future__ import annotations

from sqlalchemy import select

from bot.wecom_robot import protocol
from bot.wecom_robot.channel import NOT_YOURS
from bot.wecom_robot.sender import RobotSender
from core.clock import ManualClock
from handlers.dispatch import STALE_CHOICE, VOICE_DROPPED
from scheduler.delivery import DeliveryWorker
from storage.db import transaction
from storage.models import AuditEntry, Contact, ContactStatus, Issue, IssueStatus, ProcessedMessage, Progress
from tests.bot.test_sim_stories import FULL_ISSUE, REGISTER_LU, count
from tests.bot.wecom_robot.conftest import ManualTiming
from tests.bot.wecom_robot.fake_server import FakeRobotServer, click, text_message
from tests.bot.wecom_robot.test_channel import GROUP, replies_reach, robot, scenario
from tests.conftest import Database

PAST_DUE_ISSUE = FULL_ISSUE.replace("9月10日前", "7月1日")  # before today (15 July): the bot asks first


def cards_reach(fake: FakeRobotServer, timing: ManualTiming, n: int) -> object:
    return timing.run_until(lambda: len(fake.cards()) >= n, step=0.01, limit=30)


def audit_messages(db: Database, action: str) -> list[str | None]:
    with transaction(db.sessions) as session:
        return list(session.scalars(select(AuditEntry.message_id).where(AuditEntry.action == action)))


def test_a_questioned_date_gets_a_card_and_its_button_confirms_it_once(
    plan_loaded: Database, clock: ManualClock, fake_robot: FakeRobotServer, timing: ManualTiming
) -> None:
    async def work() -> None:
        async with robot(plan_loaded, clock, fake_robot, timing):
            fake_robot.push(text_message("LuHeJian", REGISTER_LU))
            await replies_reach(fake_robot, timing, 1)
            fake_robot.push(text_message("LuHeJian", PAST_DUE_ISSUE))
            await cards_reach(fake_robot, timing, 1)
            [card] = fake_robot.cards()
            assert "早于今天" in fake_robot.replies()[-1] and count(plan_loaded, Issue) == 0
            assert card["chatid"] == "LuHeJian" and card["card_type"] == "button_interaction"
            assert [b["text"] for b in card["button_list"]] == ["确认", "取消"]
            assert "早于今天" in card["main_title"]["desc"]

            fake_robot.push(click("LuHeJian", card, "确认", msg_id="EVTclick01"), event=True)
            await replies_reach(fake_robot, timing, 3)
            assert "已登记问题 #1" in fake_robot.replies()[-1]
            fake_robot.push(click("LuHeJian", card, "确认", msg_id="EVTclick01"), event=True)  # delivered again
            await replies_reach(fake_robot, timing, 4)
            fake_robot.push(click("LuHeJian", card, "确认"), event=True)  # clicked again: the offer is settled
            await replies_reach(fake_robot, timing, 5)
        assert fake_robot.replies()[3] == fake_robot.replies()[2] and fake_robot.replies()[4] == STALE_CHOICE
        assert count(plan_loaded, Issue) == 1
        assert count(plan_loaded, ProcessedMessage, message_id="robot:EVTclick01:LuHeJian") == 1
        assert audit_messages(plan_loaded, "issue.create") == ["robot:EVTclick01:LuHeJian"]
        updated = fake_robot.frames("aibot_respond_update_msg")
        assert updated and updated[0]["body"]["template_card"]["task_id"] == card["task_id"]

    scenario(work)


def test_in_a_group_only_the_person_asked_can_click_and_cancel_acts_as_typed(
    plan_loaded: Database, clock: ManualClock, fake_robot: FakeRobotServer, timing: ManualTiming
) -> None:
    async def work() -> None:
        async with robot(plan_loaded, clock, fake_robot, timing):
            fake_robot.push(text_message("LuHeJian", "@督办 " + REGISTER_LU, group=GROUP))
            await replies_reach(fake_robot, timing, 1)
            fake_robot.push(text_message("LuHeJian", "@督办 " + PAST_DUE_ISSUE, group=GROUP))
            await cards_reach(fake_robot, timing, 1)
            [card] = fake_robot.cards()
            assert card["chatid"] == GROUP
            fake_robot.push(click("MaQiang", card, "确认"), event=True)
            await replies_reach(fake_robot, timing, 3)
            assert fake_robot.replies()[-1] == "<@MaQiang>\n" + NOT_YOURS.format(asked="LuHeJian")
            # The refused click is not a message of anybody's: nothing recorded for it.
            assert count(plan_loaded, Issue) == 0 and count(plan_loaded, ProcessedMessage) == 2
            fake_robot.push(click("LuHeJian", card, "取消"), event=True)
            await replies_reach(fake_robot, timing, 4)
        assert fake_robot.replies()[-1].startswith("<@LuHeJian>\n已取消登记问题")
        assert count(plan_loaded, Issue) == 0

    scenario(work)


def test_a_click_after_the_dialog_is_gone_is_answered_plainly(
    plan_loaded: Database, clock: ManualClock, fake_robot: FakeRobotServer, timing: ManualTiming
) -> None:
    async def work() -> None:
        async with robot(plan_loaded, clock, fake_robot, timing):
            fake_robot.push(text_message("LuHeJian", REGISTER_LU))
            await replies_reach(fake_robot, timing, 1)
            fake_robot.push(text_message("LuHeJian", PAST_DUE_ISSUE))
            await cards_reach(fake_robot, timing, 1)
            fake_robot.push(text_message("LuHeJian", "取消"))
            await replies_reach(fake_robot, timing, 3)
            # A new question is pending when the old card's button is clicked: the old button must not settle it.
            fake_robot.push(text_message("LuHeJian", PAST_DUE_ISSUE))
            await cards_reach(fake_robot, timing, 2)
            fake_robot.push(click("LuHeJian", fake_robot.cards()[0], "确认"), event=True)
            await replies_reach(fake_robot, timing, 5)
        assert fake_robot.replies()[-1] == STALE_CHOICE and count(plan_loaded, Issue) == 0

    scenario(work)


def test_a_coordinator_approves_a_registration_with_a_button(
    plan_loaded: Database, clock: ManualClock, fake_robot: FakeRobotServer, timing: ManualTiming
) -> None:
    async def work() -> None:
        async with robot(plan_loaded, clock, fake_robot, timing) as channel:
            fake_robot.push(text_message("newbie", "登记\n单位：耕地保护科\n姓名：李娜\n职务：科员\n电话：13909550004"))
            await replies_reach(fake_robot, timing, 1)
            fake_robot.push(text_message("YuJianKui", "批准"))
            await cards_reach(fake_robot, timing, 1)
            [card] = fake_robot.cards()
            with transaction(plan_loaded.sessions) as session:
                number = session.scalars(select(Contact.id).where(Contact.name == "李娜")).one()
            assert [b["text"] for b in card["button_list"]] == [f"批准 {number} 李娜", f"驳回 {number} 李娜"]
            fake_robot.push(click("YuJianKui", card, f"批准 {number} 李娜", msg_id="EVTapprove"), event=True)
            await replies_reach(fake_robot, timing, 3)
            # Without a self-built app, notifications go to each person's one-to-one chat with the robot.
            await DeliveryWorker(
                plan_loaded.sessions, {"wecom_aibot_chat": RobotSender(channel.connection)}, clock=clock
            ).drain()
        assert f"已批准登记号 {number}" in fake_robot.replies()[2]
        notified = {
            f["body"]["chatid"]: f["body"]["markdown"]["content"]
            for f in fake_robot.frames(protocol.SEND)
            if f["body"]["msgtype"] == "markdown"
        }
        assert f"新的联络员登记待审核（登记号 {number}）" in notified["YuJianKui"]
        assert "已通过审核" in notified["newbie"]
        with transaction(plan_loaded.sessions) as session:
            assert session.get(Contact, number).status is ContactStatus.ACTIVE  # type: ignore[union-attr]
        assert audit_messages(plan_loaded, "contact.approve") == ["robot:EVTapprove:YuJianKui"]

    scenario(work)


def voice(user: str, said: str) -> dict[str, object]:
    return text_message(user, "x") | {"msgtype": "voice", "voice": {"content": said}}


def test_a_voice_message_is_echoed_and_stored_only_once_confirmed(
    plan_loaded: Database, clock: ManualClock, fake_robot: FakeRobotServer, timing: ManualTiming
) -> None:
    async def work() -> None:
        async with robot(plan_loaded, clock, fake_robot, timing):
            for text in (REGISTER_LU, FULL_ISSUE):
                fake_robot.push(text_message("LuHeJian", text))
                await replies_reach(fake_robot, timing, len(fake_robot.replies()) + 1)
            fake_robot.push(voice("LuHeJian", "1号问题已整改。"))
            await cards_reach(fake_robot, timing, 1)
            assert fake_robot.replies()[-1].startswith("我听到的是：1号问题已整改。")
            assert count(plan_loaded, Progress) == 0
            fake_robot.push(text_message("LuHeJian", "确认"))  # typed, or the card's button
            await replies_reach(fake_robot, timing, 4)
            assert count(plan_loaded, Progress) == 1

            fake_robot.push(voice("LuHeJian", "一号问题整改中"))
            await cards_reach(fake_robot, timing, 2)
            fake_robot.push(click("LuHeJian", fake_robot.cards()[-1], "取消"), event=True)
            await replies_reach(fake_robot, timing, 6)
        assert fake_robot.replies()[-1].startswith(VOICE_DROPPED) and count(plan_loaded, Progress) == 1
        with transaction(plan_loaded.sessions) as session:
            assert session.scalars(select(Issue.status)).one() is IssueStatus.RECTIFIED

    scenario(work)


def test_a_voice_message_inside_a_dialog_answers_its_question_once_confirmed(
    plan_loaded: Database, clock: ManualClock, fake_robot: FakeRobotServer, timing: ManualTiming
) -> None:
    async def work() -> None:
        async with robot(plan_loaded, clock, fake_robot, timing):
            fake_robot.push(text_message("LuHeJian", REGISTER_LU))
            await replies_reach(fake_robot, timing, 1)
            fake_robot.push(text_message("LuHeJian", FULL_ISSUE.replace("\n责任人：张三", "")))
            await replies_reach(fake_robot, timing, 2)
            assert "责任人" in fake_robot.replies()[-1]
            fake_robot.push(voice("LuHeJian", "张三"))
            await cards_reach(fake_robot, timing, 1)
            fake_robot.push(click("LuHeJian", fake_robot.cards()[-1], "确认"), event=True)
            await replies_reach(fake_robot, timing, 4)
        assert "已登记问题 #1" in fake_robot.replies()[-1]
        with transaction(plan_loaded.sessions) as session:
            assert session.scalars(select(Issue.owner)).one() == "张三"

    scenario(work)
