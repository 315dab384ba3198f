"""Every chat command through the dispatcher, with the test's clock and no HTTP: for the role it serves, its main
reply and what it stores; for a role it does not serve, the refusal and nothing stored.

The campaign is tests/factories.py's ledger on Wednesday 2020-07-15: WangFang is 办公室's liaison, MaQiang
执法监察支队's, 法制科's 陆和建 is pre-listed (phone 13909551234) without a chat id yet, LiNa waits for approval
(登记号 4) for 耕地保护科, YuJianKui is the coordinator. Stories across commands live in tests/bot/.
"""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.clock import ManualClock
from handlers.message import Attachment, IncomingMessage
from plan.schema import read_plan
from plan.sync import load_plan
from storage.db import transaction
from storage.files import stage_bytes
from storage.models import (
    Contact,
    ContactStatus,
    Deliverable,
    DialogState,
    Issue,
    IssueStatus,
    Material,
    MaterialTarget,
    Notice,
    NoticeReceipt,
    Progress,
    StatsReport,
    Submission,
    TaskProgress,
    Unit,
    WeeklyReport,
)
from tests.conftest import FIXTURES, Database, at
from tests.factories import build_ledger
from tests.handlers.talk import Talk, command_names

COORDINATOR, LIAISON, STRANGER, PENDING = "YuJianKui", "MaQiang", "ZhangWei", "LiNa"


@pytest.fixture
def talk(plan_loaded: Database, clock: ManualClock) -> Talk:
    build_ledger(plan_loaded)
    return Talk(plan_loaded, clock)


def count(talk: Talk, model: type, *where: object) -> int:
    with transaction(talk.db.sessions) as session:
        return session.scalar(select(func.count()).select_from(model).where(*where)) or 0


def unit_id(session: Session, name: str) -> int:
    return session.scalars(select(Unit.id).where(Unit.name == name)).one()


def denied(talk: Talk) -> list[str]:
    """The commands refused so far, in order (the audit's `denied` entries)."""
    return [detail["command"] for action, detail in talk.audit() if action == "denied"]


# 帮助


@pytest.mark.parametrize(
    ("user", "role", "present", "absent"),
    [
        (STRANGER, "未登记用户", "请先发送「登记」", "进展 <编号>"),
        (PENDING, "待审核联络员", "正在等待牵头部门审核", "进展 <编号>"),
        (LIAISON, "联络员（执法监察支队）", "进展 <编号>", "批准 <登记号>"),
        (COORDINATOR, "牵头部门协调人", "批准 <登记号>", "进展 <编号>"),
    ],
)
def test_help_lists_the_commands_of_the_senders_role(
    talk: Talk, user: str, role: str, present: str, absent: str
) -> None:
    reply = talk.send(user, "帮助")
    assert reply.startswith(f"您的身份：{role}") and present in reply and absent not in reply
    assert talk.send(user, "菜单") == reply


# 登记 / 批准 / 驳回


def test_a_stranger_with_a_prelisted_phone_registers_at_once(talk: Talk) -> None:
    reply = talk.send(STRANGER, "登记 单位：法制科 姓名：陆和建 职务：法制科科长 电话：139 0955 1234")
    assert reply.startswith("登记成功！您已是「法制科」的专项整治联络员。") and "电话：13909551234" in reply
    with transaction(talk.db.sessions) as session:
        contact = session.scalars(select(Contact).where(Contact.name == "陆和建")).one()
        assert contact.status is ContactStatus.ACTIVE and contact.title == "法制科科长"
    assert talk.send(STRANGER, "帮助").startswith("您的身份：联络员（法制科）")


def test_a_stranger_with_another_phone_waits_and_the_coordinators_hear_of_it(talk: Talk) -> None:
    reply = talk.send(STRANGER, "登记 单位：耕地 姓名：赵敏 职务：科员 电话：13800001111")
    assert reply.startswith("已提交登记（登记号 5），等待牵头部门审核")
    assert count(talk, Contact, Contact.name == "赵敏", Contact.status == ContactStatus.PENDING) == 1
    (note,) = [text for _channel, target, text in talk.outbox() if target == COORDINATOR]
    assert note.startswith("新的联络员登记待审核（登记号 5）：耕地保护科 赵敏") and "批准 5" in note


def test_registering_without_fields_opens_the_dialog_and_cancel_leaves_nothing(talk: Talk) -> None:
    assert "请发送您所在的单位名称" in talk.send(STRANGER, "登记")
    assert count(talk, DialogState) == 1
    assert talk.send(STRANGER, "取消").startswith("已取消登记联络员，没有保存任何内容。")
    assert count(talk, DialogState) == 0 and count(talk, Contact, Contact.name == "赵敏") == 0


def test_a_coordinator_need_not_register(talk: Talk) -> None:
    reply = talk.send(COORDINATOR, "登记 单位：法制科 姓名：俞建奎 电话：13800001111")
    assert reply == "您是牵头部门的协调人，无需登记为联络员。"
    assert count(talk, Contact) == 4


def test_the_coordinator_approves_and_the_applicant_is_told(talk: Talk) -> None:
    assert talk.send(COORDINATOR, "批准").startswith("当前待审核的联络员登记 1 个：\n登记号 4：耕地保护科 李娜（科员）")
    assert talk.send(COORDINATOR, "同意 4") == "已批准登记号 4：耕地保护科 李娜 / 科员 / 13909550004，已通知本人。"
    assert count(talk, Contact, Contact.name == "李娜", Contact.status == ContactStatus.ACTIVE) == 1
    ((_channel, _target, text),) = [m for m in talk.outbox() if m[1] == PENDING]
    assert text.startswith("您登记为「耕地保护科」联络员的申请已通过审核。")
    assert talk.send(COORDINATOR, "批准 4").startswith("没有待审核的登记号 4。")


def test_the_coordinator_rejects_with_a_reason(talk: Talk) -> None:
    assert talk.send(COORDINATOR, "退回 李娜") == "已驳回登记号 4（耕地保护科 李娜），已通知本人。"
    assert count(talk, Contact, Contact.name == "李娜", Contact.status == ContactStatus.REJECTED) == 1
    assert talk.send(COORDINATOR, "驳回 4 不是本单位人员").startswith("没有待审核的登记号 4。")


@pytest.mark.parametrize("text", ["批准 4", "驳回 4 不是本单位人员"])
def test_a_liaison_cannot_decide_registrations(talk: Talk, text: str) -> None:
    assert talk.send(LIAISON, text).startswith(f"「{text[:2]}」仅限牵头部门协调人使用。")
    assert count(talk, Contact, Contact.name == "李娜", Contact.status == ContactStatus.PENDING) == 1
    assert denied(talk) == [text[:2]]


# 问题 / 进展 / #12 / 我的问题

ISSUE = (
    "问题 线索名称：执法记录仪未使用 来源：专项检查 重点：队伍建设 内容：现场执法未全程记录 措施：配发并培训 "
    "目标：全程记录 负责人：张三 时限：9月10日前"
)


def test_a_liaison_logs_an_issue_in_one_message(talk: Talk) -> None:
    reply = talk.send(LIAISON, ISSUE)
    assert reply.startswith("已登记问题 #8「执法记录仪未使用」（执法监察支队），完成时限 2020年9月10日。")
    with transaction(talk.db.sessions) as session:
        issue = session.scalars(select(Issue).where(Issue.number == 8)).one()
        assert (issue.unit.name, issue.focus_area, issue.source, issue.status) == (
            "执法监察支队",
            "队伍建设",
            "专项检查",
            IssueStatus.OPEN,
        )


def test_logging_an_issue_field_by_field(talk: Talk) -> None:
    assert talk.send(LIAISON, "问题").startswith("请发送「线索名称」")
    assert "线索来源" in talk.send(LIAISON, "执法记录仪未使用")
    assert talk.send(LIAISON, "取消").startswith("已取消登记问题，没有保存任何内容。")
    assert count(talk, Issue) == 7


@pytest.mark.parametrize("user", [COORDINATOR, STRANGER])
def test_only_a_liaison_logs_issues(talk: Talk, user: str) -> None:
    reply = talk.send(user, ISSUE)
    assert "「问题」供各单位联络员使用。" in reply or "您还未登记为联络员" in reply
    assert count(talk, Issue) == 7 and count(talk, DialogState) == 0


def test_progress_in_percent_then_rectified(talk: Talk) -> None:
    assert talk.send(LIAISON, "进展 #5 80% 已约谈") == (
        "已记录 #5「辅助人员单独执法」进展：整改中 80%（原为 整改中 50%），已约谈。"
    )
    assert talk.send(LIAISON, "5号问题已整改").startswith("#5「辅助人员单独执法」已整改，已销号。")
    with transaction(talk.db.sessions) as session:
        issue = session.scalars(select(Issue).where(Issue.number == 5)).one()
        assert (issue.status, issue.percent) == (IssueStatus.RECTIFIED, 100)
        assert [(p.percent, p.note) for p in issue.progress][-2:] == [(80, "已约谈"), (100, None)]


def test_progress_on_another_units_issue_is_refused(talk: Talk) -> None:
    reply = talk.send(LIAISON, "进展 1 已整改")
    assert reply == "#1 不是「执法监察支队」的问题，您只能报告本单位问题的进展。"
    assert count(talk, Issue, Issue.number == 1, Issue.status == IssueStatus.OPEN) == 1
    assert denied(talk) == ["进展"]


def test_a_coordinator_cannot_report_progress(talk: Talk) -> None:
    progress = count(talk, Progress)
    assert talk.send(COORDINATOR, "进展 5 已整改").startswith("「进展」供各单位联络员使用。")
    assert count(talk, Progress) == progress and denied(talk) == ["进展"]


def test_showing_an_issue(talk: Talk) -> None:
    shown = talk.send(COORDINATOR, "#5")
    assert shown.startswith("#5 辅助人员单独执法｜整改中 50%｜时限 7月17日")
    assert "单位：执法监察支队｜线索来源：信访举报｜责任人：张三" in shown
    assert talk.send(LIAISON, "第5条").startswith(shown)  # the unit's own liaison is also told how to report
    assert talk.send(LIAISON, "#7").startswith("#7 不是「执法监察支队」的问题。")
    assert talk.send(STRANGER, "#5").startswith("您还未登记为联络员，请先发送「登记」。")


def test_my_issues_lists_the_units_open_issues(talk: Talk, clock: ManualClock) -> None:
    clock.set(at("2020-07-20 09:00"))
    reply = talk.send(LIAISON, "我的问题")
    assert reply.startswith("「执法监察支队」未销号问题 1 个，其中逾期 1 个：")
    assert "#5 辅助人员单独执法｜整改中 50%｜时限 7月17日（已逾期3天）" in reply
    assert talk.send(COORDINATOR, "我的问题").startswith("「我的问题」供各单位联络员使用。")


# 周报（联络员报送，协调人查看）


def test_a_liaison_sends_the_weekly_report_and_a_resend_replaces_it(talk: Talk, clock: ManualClock) -> None:
    reply = talk.send(LIAISON, "周报 本周完成执法案卷评查3件")
    assert reply == "已收到「执法监察支队」第29周周报（截止 周五 12:00，按时）。"
    clock.set(at("2020-07-17 15:00"))
    assert "迟报" in talk.send(LIAISON, "周报 本周完成执法案卷评查5件")
    with transaction(talk.db.sessions) as session:
        unit = unit_id(session, "执法监察支队")
        (report,) = session.scalars(select(WeeklyReport).where(WeeklyReport.unit_id == unit))
        assert (report.iso_week, report.text, report.late) == (29, "本周完成执法案卷评查5件", True)


def test_the_coordinator_reads_the_weekly_reports(talk: Talk) -> None:
    talk.send(LIAISON, "周报 本周完成执法案卷评查3件")
    week = talk.send(COORDINATOR, "本周周报")
    assert week.startswith("第29周（7月13日–7月17日）周报：3/4 个单位已报送")
    assert "【执法监察支队】马强 7月15日 周三 10:00：本周完成执法案卷评查3件" in week
    one = talk.send(COORDINATOR, "周报 支队")
    assert one.startswith("【执法监察支队】第29周（7月13日–7月17日）周报\n状态：已报送")
    assert count(talk, WeeklyReport) == 5  # reading stores nothing


def test_a_stranger_cannot_send_a_weekly_report(talk: Talk) -> None:
    assert talk.send(STRANGER, "周报 本周工作").startswith("您还未登记为联络员")
    assert count(talk, WeeklyReport) == 4


# 统计 / 报送


def test_stats_replace_the_units_numbers(talk: Talk) -> None:
    assert talk.send(LIAISON, "统计 队伍建设 处理2人 处分1人").startswith(
        "已记录「执法监察支队」队伍建设：处理 2 人，党纪政务处分 1 人（原为处理 1 人、处分 0 人）。"
    )
    with transaction(talk.db.sessions) as session:
        unit = unit_id(session, "执法监察支队")
        stats = session.scalars(select(StatsReport).where(StatsReport.unit_id == unit)).one()
        assert (stats.handled, stats.disciplined) == (2, 1)
    assert talk.send(COORDINATOR, "统计 队伍建设 处理9人 处分9人").startswith("「统计」供各单位联络员使用。")
    assert count(talk, StatsReport, StatsReport.handled == 9) == 0


def test_submitting_a_deliverable(talk: Talk) -> None:
    listed = talk.send(LIAISON, "报送")
    assert "2. 行政裁量基准（9月30日前，未报送）" in listed
    assert talk.send(LIAISON, "报送 行政裁量基准") == "已登记「执法监察支队」报送「行政裁量基准」。"
    discretion = Submission.deliverable_id == Deliverable.id, Deliverable.name == "行政裁量基准"
    assert count(talk, Submission, *discretion) == 1
    # A coordinator's 报送 is for a campaign with a parent (tests/handlers/test_upward.py); this one has none.
    assert "本专项整治没有上级专项整治" in talk.send(COORDINATOR, "报送 行政裁量基准")
    assert count(talk, Submission, *discretion) == 1


# 材料


def test_materials_for_a_liaison_and_for_a_coordinator(talk: Talk) -> None:
    file = IncomingMessage(
        "wecom",
        LIAISON,
        "报送 行政裁量基准",
        talk.clock.now(),
        message_id="unit-file",
        attachment=Attachment("基准.pdf", stage_bytes(b"%PDF-1.4\n%%EOF\n", "基准.pdf")),
    )
    assert "已作为报送「行政裁量基准」的材料保存 1 个文件" in "\n".join(talk.dispatcher.handle(file).texts)
    assert count(talk, Material, Material.target == MaterialTarget.DELIVERABLE) == 1
    assert "「执法监察支队」已报送的文件（1 份）" in talk.send(LIAISON, "材料")
    assert talk.send(LIAISON, "材料 周报").startswith("没有等待说明用途的文件")
    summary = talk.send(COORDINATOR, "材料 行政裁量基准")
    assert "1/2 个单位已报送文件，共 1 份" in summary and "执法监察支队（1份）" in summary
    assert talk.send(STRANGER, "材料").startswith("您还未登记为联络员")
    assert denied(talk) == ["材料"]


# 通知 / 回执


def test_a_notice_reaches_every_liaison_and_a_receipt_is_counted(talk: Talk) -> None:
    assert talk.send(COORDINATOR, "通知：请各单位于周五前报送典型案例").startswith(
        "已发出通知〔1〕（全部单位）：送达 2 个单位的 2 位联络员。\n未送达 2 个单位（尚无联络员）：法制科、耕地保护科。"
    )
    sent = [target for _channel, target, text in talk.outbox() if "请各单位于周五前报送典型案例" in text]
    assert sorted(sent) == ["MaQiang", "WangFang"]  # LiNa is not approved yet
    assert talk.send(LIAISON, "收到！").startswith("已确认收到通知〔1〕「请各单位于周五前报送典型案例」")
    receipts = talk.send(COORDINATOR, "回执")
    assert "回执：1/2 个单位已确认收到" in receipts and "已确认（1）：执法监察支队（马强 7月15日 10:00）" in receipts
    assert count(talk, NoticeReceipt, NoticeReceipt.acknowledged_at.is_not(None)) == 1
    assert talk.send(LIAISON, "回执") == "目前没有需要确认收到的通知。"


def test_a_liaison_cannot_send_a_notice(talk: Talk) -> None:
    assert talk.send(LIAISON, "通知 明天开会").startswith("「通知」仅限牵头部门协调人使用。")
    assert count(talk, Notice) == 0 and talk.outbox() == []


# 汇总 / 图表 / 逾期 / 未报送


def test_the_summary_for_a_coordinator_and_for_a_liaison(talk: Talk) -> None:
    whole = talk.reply(COORDINATOR, "汇总")
    assert whole.texts[0].startswith("【行政执法不作为慢作为乱作为专项整治】汇总（2020年7月15日）")
    assert "整改率：57.1%（4/7）" in whole.texts[0]
    own = talk.send(LIAISON, "汇总")
    assert own.startswith("【执法监察支队】专项整治情况（2020年7月15日）\n状态：🟡 黄灯（1个问题3天内到期）")
    assert talk.send(LIAISON, "汇总 法制科") == "您只能查看本单位（执法监察支队）的情况，发送「汇总」即可。"
    assert denied(talk) == ["汇总"]


@pytest.mark.parametrize(
    ("text", "start"),
    [
        ("图表", "各单位整改率与目标对比（2020年7月15日）"),
        ("逾期", None),
        ("未报送", None),
    ],
)
def test_the_coordinators_views_are_refused_to_a_liaison(talk: Talk, text: str, start: str | None) -> None:
    reply = talk.send(COORDINATOR, text)
    assert not reply.startswith("「") and (start is None or reply.startswith(start))
    assert talk.send(LIAISON, text).startswith(f"「{text}」仅限牵头部门协调人使用。")
    assert denied(talk) == [text]


def test_overdue_and_missing_name_the_units(talk: Talk) -> None:
    assert "法制科" in talk.send(COORDINATOR, "逾期") and "#2 案卷不规范" in talk.send(COORDINATOR, "逾期")
    missing = talk.send(COORDINATOR, "未报送")
    assert "执法监察支队" in missing and "耕地保护科" in missing


# 任务 / 我的任务 (a plan with a task division)


@pytest.fixture
def tasks(db: Database, clock: ManualClock) -> Talk:
    with transaction(db.sessions) as session:
        load_plan(session, read_plan(FIXTURES / "tasks.yaml"), now=clock.now())
    return Talk(db, clock)


def test_a_liaison_lists_and_completes_the_units_tasks(tasks: Talk) -> None:
    assert tasks.send(LIAISON, "我的任务").startswith("「执法监察支队」的任务 4 项（配合1、责任3）")
    assert "已记录「执法监察支队」完成任务8。" in tasks.send(LIAISON, "8号任务已完成")
    assert count(tasks, TaskProgress, TaskProgress.done.is_(True)) == 1


def test_a_coordinator_reads_a_task_but_reports_nothing(tasks: Talk) -> None:
    coordinator = "QiShaoBo"
    assert "任务 <编号>" in tasks.send(coordinator, "任务")
    assert tasks.send(coordinator, "我的任务").startswith("「我的任务」供各单位联络员使用。")
    assert "供各单位联络员使用" in tasks.send(coordinator, "任务 8 完成")
    assert count(tasks, TaskProgress) == 0


# Every declared command is covered above: a new one needs its own test here.

COVERED = {
    "帮助",
    "登记",
    "批准",
    "驳回",
    "问题",
    "进展",
    "查看",
    "我的问题",
    "周报",
    "统计",
    "报送",
    "通知",
    "回执",
    "汇总",
    "图表",
    "逾期",
    "未报送",
    "任务",
    "我的任务",
    "材料",
}


def test_every_command_has_a_unit_test_here() -> None:
    assert command_names() == COVERED
