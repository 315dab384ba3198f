"""One deployment serving two overlapping campaigns (tests/fixtures/plan.yaml and plan_three_year.yaml, alias 三年行动):
which campaign each message goes to, and when a reply says which. 马强 (MaQiang) is a liaison in both, 王芳 only in
the first, 张伟 only in the second."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from core.clock import ManualClock
from handlers.dialogs import STALE_CHOICE
from handlers.dispatch import Dispatcher
from handlers.message import Attachment, IncomingMessage
from plan.schema import read_plan
from plan.sync import load_plan
from storage.db import transaction
from storage.files import stage_bytes
from storage.models import AuditEntry, Campaign, CampaignChoice, Contact, Unit, WeeklyReport
from tests.conftest import FIXTURES, Database, at
from tests.handlers.talk import Talk

FIRST = "行政执法不作为慢作为乱作为专项整治"
THREE_YEAR = "红寺堡区提升行政执法质量三年行动"
ASKED = "是哪个专项整治的"


@pytest.fixture
def both(plan_loaded: Database, clock: ManualClock) -> Database:
    with transaction(plan_loaded.sessions) as session:
        load_plan(session, read_plan(FIXTURES / "plan_three_year.yaml"), now=clock.now())
    return plan_loaded


@pytest.fixture
def talk(both: Database, clock: ManualClock) -> Talk:
    return Talk(both, clock)


def reports(db: Database) -> list[tuple[str, str]]:
    """Every weekly report: (its unit, its text)."""
    with transaction(db.sessions) as session:
        rows = session.execute(select(Unit.name, WeeklyReport.text).join(Unit, Unit.id == WeeklyReport.unit_id)).all()
    return sorted((unit, text) for unit, text in rows)


def test_someone_in_one_campaign_is_answered_as_before(talk: Talk, both: Database) -> None:
    assert talk.send("WangFang", "周报 本周公布监督电话").startswith("已收到「办公室」第29周周报")
    assert talk.send("ZhangWei", "周报 本周组织培训").startswith("已收到「红寺堡镇」第29周周报")
    assert "【" not in talk.send("ZhangWei", "我的问题")
    assert reports(both) == [("办公室", "本周公布监督电话"), ("红寺堡镇", "本周组织培训")]


@pytest.mark.parametrize(
    "text",
    [
        "【三年行动】周报 本周开展培训",
        "[三年行动]周报 本周开展培训",
        "［三年行动］ 周报 本周开展培训",
        "三年行动 周报 本周开展培训",
        "三年行动：周报 本周开展培训",
        "三年行动,周报 本周开展培训",
        "三年行动周报 本周开展培训",
        "【红寺堡区提升行政执法质量三年行动】周报 本周开展培训",
        "红寺堡区提升行政执法质量三年行动 周报 本周开展培训",
    ],
)
def test_a_message_that_names_its_campaign_goes_there_and_the_reply_says_so(
    talk: Talk, both: Database, text: str
) -> None:
    reply = talk.send("MaQiang", text)
    assert reply.startswith("【三年行动】已收到「自然资源局」第29周周报"), reply
    assert reports(both) == [("自然资源局", "本周开展培训")]


def test_the_first_campaign_named_by_its_full_name(talk: Talk, both: Database) -> None:
    reply = talk.send("MaQiang", f"【{FIRST}】周报 本周核查图斑")
    assert reply.startswith(f"【{FIRST}】已收到「执法监察支队」第29周周报")
    assert reports(both) == [("执法监察支队", "本周核查图斑")]


def test_an_ambiguous_message_is_asked_about_once_and_the_answer_is_remembered_for_the_day(
    talk: Talk, both: Database, clock: ManualClock
) -> None:
    asked = talk.reply("MaQiang", "周报 本周开展执法培训")
    text = "\n".join(asked.texts)
    assert ASKED in text and f"1. {FIRST}" in text and f"2. {THREE_YEAR}（简称：三年行动）" in text
    assert [c.text for c in asked.choices] == ["1", "2", "取消"] and asked.offer_id
    assert reports(both) == []  # kept until the answer

    answered = talk.reply("MaQiang", "2")
    assert len(answered.texts) == 1 and answered.texts[0].startswith("【三年行动】已收到「自然资源局」第29周周报")
    assert reports(both) == [("自然资源局", "本周开展执法培训")]

    clock.advance(timedelta(hours=3))
    later = talk.send("MaQiang", "我的问题")  # the same day: not asked again
    assert ASKED not in later and later.startswith("【三年行动】")
    assert talk.send("MaQiang", f"【{FIRST}】我的问题").startswith(f"【{FIRST}】")  # naming it still works
    assert talk.send("MaQiang", "我的问题").startswith("【三年行动】")  # and leaves today's choice alone

    clock.advance(timedelta(days=1))
    assert ASKED in talk.send("MaQiang", "我的问题")  # a new day: asked again


@pytest.mark.parametrize(
    "answer", ["2", "２", "第2个", "第二个", "2.", "三年行动", "【三年行动】", THREE_YEAR, "切换 三年行动"]
)
def test_the_question_takes_the_answers_people_give(talk: Talk, both: Database, answer: str) -> None:
    assert ASKED in talk.send("MaQiang", "周报 本周开展执法培训")
    assert talk.send("MaQiang", answer).startswith("【三年行动】已收到「自然资源局」")
    assert reports(both) == [("自然资源局", "本周开展执法培训")]


def test_help_cancel_and_a_wrong_number_while_the_question_waits(talk: Talk, both: Database) -> None:
    assert ASKED in talk.send("MaQiang", "周报 本周开展执法培训")
    helped = talk.send("MaQiang", "帮助")
    assert "请先选择专项整治" in helped and ASKED in helped
    wrong = talk.send("MaQiang", "5")
    assert "请回复 1–2 之间的序号" in wrong and ASKED in wrong
    assert "刚才那条消息没有办理" in talk.send("MaQiang", "取消")
    assert "当前没有需要取消的操作" in talk.send("MaQiang", "【三年行动】取消")
    assert reports(both) == []


def test_a_new_message_instead_of_an_answer_is_asked_about_and_the_first_is_said_to_be_dropped(
    talk: Talk, both: Database
) -> None:
    assert ASKED in talk.send("MaQiang", "周报 本周开展执法培训")
    again = talk.send("MaQiang", "我的问题")
    assert "之前那条「周报 本周开展执法培训」没有办理" in again and "「我的问题」是哪个专项整治的" in again
    assert talk.send("MaQiang", "1").startswith(f"【{FIRST}】")
    assert reports(both) == []


def test_switching_changes_todays_choice(talk: Talk, both: Database) -> None:
    assert "已切换到「红寺堡区提升行政执法质量三年行动」" in talk.send("MaQiang", "切换 三年行动")
    assert talk.send("MaQiang", "周报 本周开展执法培训").startswith("【三年行动】已收到「自然资源局」")
    assert "已切换到「行政执法不作为慢作为乱作为专项整治」" in talk.send("MaQiang", f"换到{FIRST}")
    assert talk.send("MaQiang", "周报 本周核查图斑").startswith(f"【{FIRST}】已收到「执法监察支队」")
    assert "无需切换" in talk.send("WangFang", f"切换 {FIRST}")
    assert "您还不是" in talk.send("WangFang", "切换到三年行动")
    assert not talk.send("WangFang", "我的问题").startswith("【")  # still only in the first: no name in front


def test_a_dialog_under_way_in_one_campaign_takes_the_answers(talk: Talk, both: Database) -> None:
    assert "线索来源" in talk.send("MaQiang", "【三年行动】问题 执法记录仪未按规定使用")
    reply = talk.send("MaQiang", "专项检查")  # no name, no question: the dialog in 三年行动 goes on
    assert reply.startswith("【三年行动】") and ASKED not in reply
    assert "已取消" in talk.send("MaQiang", "取消")
    assert ASKED in talk.send("MaQiang", "问题 执法记录仪未按规定使用")  # no dialog any more: asked


def test_a_stranger_is_asked_which_campaign_to_register_in(talk: Talk, both: Database) -> None:
    asked = talk.send("newbie", "登记")
    assert "您要登记为哪一个的联络员" in asked and f"2. {THREE_YEAR}" in asked
    reply = talk.send("newbie", "三年行动")
    assert reply.startswith("【三年行动】") and "单位名称" in reply
    assert "姓名" in talk.send("newbie", "红寺堡镇")  # the dialog goes on in 三年行动
    assert "职务" in talk.send("newbie", "赵六")
    assert "电话" in talk.send("newbie", "科员")
    assert "已提交登记" in talk.send("newbie", "13800000002")
    with transaction(both.sessions) as session:
        contact = session.scalars(select(Contact).where(Contact.name == "赵六")).one()
        assert contact.unit.name == "红寺堡镇" and session.get(Campaign, contact.campaign_id).name == THREE_YEAR  # type: ignore[union-attr]
    # The coordinator of 三年行动 only is told as before, without a name in front.
    assert any(t == "QiShaoBo" and text.startswith("新的联络员登记待审核") for _c, t, text in talk.outbox())


def test_a_stranger_whose_registration_names_a_unit_of_one_campaign_is_not_asked(talk: Talk, both: Database) -> None:
    reply = talk.send("newbie", "登记 单位：红寺堡镇 姓名：赵六 职务：科员 电话：13800000002")
    assert reply.startswith("【三年行动】已提交登记")
    assert "未登记用户" in talk.send("other", "帮助")  # anything else from a stranger: the stranger's menu


def test_naming_a_campaign_one_is_not_in_treats_one_as_unregistered_there(talk: Talk, both: Database) -> None:
    reply = talk.send("WangFang", "【三年行动】周报 本周公布监督电话")
    assert reply.startswith("【三年行动】您还未登记为联络员")
    assert reports(both) == []
    assert talk.send("WangFang", "【三年行动】登记").startswith("【三年行动】请发送您所在的单位名称")


def test_a_deployment_for_one_campaign_serves_only_it(both: Database, clock: ManualClock) -> None:
    dispatcher = Dispatcher(both.sessions, campaign_name=FIRST)
    reply = dispatcher.handle(IncomingMessage("wecom", "MaQiang", "周报 本周核查图斑", clock.now(), message_id="d1"))
    assert reply.texts[0].startswith("已收到「执法监察支队」第29周周报")
    assert reports(both) == [("执法监察支队", "本周核查图斑")]


def test_a_redelivered_question_or_answer_is_answered_from_the_record(both: Database, clock: ManualClock) -> None:
    dispatcher = Dispatcher(both.sessions)

    def handle(text: str, message_id: str) -> list[str]:
        message = IncomingMessage("wecom", "MaQiang", text, clock.now(), message_id=message_id)
        return list(dispatcher.handle(message).texts)

    asked = handle("周报 本周开展执法培训", "q1")
    assert handle("周报 本周开展执法培训", "q1") == asked
    answered = handle("2", "a1")
    assert handle("2", "a1") == answered
    assert reports(both) == [("自然资源局", "本周开展执法培训")]
    with transaction(both.sessions) as session:
        choice = session.scalars(select(CampaignChoice)).one()
        assert choice.question is None and choice.day == clock.now().date()
        actions = session.execute(select(AuditEntry.action, AuditEntry.message_id).order_by(AuditEntry.id)).all()
    assert ("campaign.choose", "a1") in actions and ("weekly.submit", "a1") in [tuple(a) for a in actions]


def test_a_notice_to_someone_in_both_campaigns_names_its_campaign(talk: Talk, both: Database) -> None:
    assert "已发出通知" in talk.send("YuJianKui", "通知 请各单位于7月24日前报送典型案例")
    sent = {target: text for _channel, target, text in talk.outbox()}
    assert sent["MaQiang"].startswith(f"【{FIRST}】【通知〔1〕】") and sent["WangFang"].startswith("【通知〔1〕】")
    # 收到 goes to the campaign whose notice waits for it: no question.
    assert talk.send("MaQiang", "收到").startswith(f"【{FIRST}】已确认收到通知〔1〕")
    assert talk.send("MaQiang", "谢谢").endswith("发送「帮助」查看可用指令。")


def test_a_button_answers_the_question_and_an_old_button_does_nothing(
    talk: Talk, both: Database, clock: ManualClock
) -> None:
    def click(offer: str | None, text: str) -> str:
        message = IncomingMessage(
            "wecom", "MaQiang", text, clock.now(), message_id=f"click-{text}-{offer}", answers=offer
        )
        return "\n".join(talk.dispatcher.handle(message).texts)

    first = talk.reply("MaQiang", "周报 本周开展执法培训").offer_id
    assert "刚才那条消息没有办理" in talk.send("MaQiang", "取消")
    assert click(first, "2") == STALE_CHOICE  # the question was dropped: no new question about "2"
    second = talk.reply("MaQiang", "周报 本周开展执法培训").offer_id
    assert click(second, "2").startswith("【三年行动】已收到「自然资源局」")
    assert click(second, "1") == f"【三年行动】{STALE_CHOICE}"  # answered already: nothing runs
    assert reports(both) == [("自然资源局", "本周开展执法培训")]


def test_a_file_of_unknown_campaign_is_asked_about_and_to_be_sent_again(talk: Talk, both: Database) -> None:
    asked = talk.dispatcher.handle(
        IncomingMessage(
            "wecom",
            "MaQiang",
            "",
            talk.clock.now(),
            message_id="file-1",
            attachment=Attachment("培训记录.pdf", stage_bytes(b"%PDF-1.4\n%%EOF\n", "培训记录.pdf")),
        )
    )
    assert "文件「培训记录.pdf」是哪个专项整治的" in asked.texts[0]
    assert "刚才的文件「培训记录.pdf」请重新发送" in talk.send("MaQiang", "2")
    assert talk.send("MaQiang", "我的问题").startswith("【三年行动】")


def test_only_the_campaign_under_way_is_meant_once_the_other_has_ended(
    talk: Talk, both: Database, clock: ManualClock
) -> None:
    clock.set(at("2021-03-03 10:00"))  # the first campaign ended on 2020-11-30; 三年行动 runs to 2022
    reply = talk.send("MaQiang", "周报 本周开展执法培训")
    assert ASKED not in reply and reply.startswith("【三年行动】已收到「自然资源局」")
    assert talk.send("newbie", "登记").startswith("请发送您所在的单位名称")  # registering: only 三年行动 is open
    assert talk.send("MaQiang", f"【{FIRST}】我的问题").startswith(f"【{FIRST}】")  # naming it still reaches it
