"""The liaison and coordinator stories of the spine, told through the simulator API (/sim/api/*)."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import func, select

from core.clock import ManualClock
from core.statuses import ContactStatus, IssueStatus
from storage.db import transaction
from storage.models import AuditEntry, ChatIdentity, Contact, Issue, Progress, StatsReport, Submission, WeeklyReport
from tests.conftest import Database, SimChat, at

REGISTER_LU = "登记\n单位：法制科\n姓名：陆和建\n职务：法制科科长\n电话：13909551234\n邮箱：lu@example.cn"
FULL_ISSUE = (
    "问题\n线索名称：执法证件未按期年检\n线索来源：专项检查\n整治重点：队伍建设\n"
    "线索内容：3名执法人员证件过期\n整改措施：组织补办年检\n整改目标：全部持证上岗\n责任人：张三\n完成时限：9月10日前"
)


def count(db: Database, model: type, **where: object) -> int:
    with transaction(db.sessions) as session:
        stmt = select(func.count()).select_from(model)
        for key, value in where.items():
            stmt = stmt.where(getattr(model, key) == value)
        return int(session.scalar(stmt) or 0)


def issue(db: Database, number: int) -> Issue:
    with transaction(db.sessions) as session:
        return session.scalars(select(Issue).where(Issue.number == number)).one()


# --- registration -----------------------------------------------------------------------------------


def test_stranger_registers_pending_and_coordinator_approves(chat: SimChat, plan_loaded: Database) -> None:
    reply = chat.send(
        "newbie", "登记\n单位：耕地保护科\n姓名：李娜\n职务：科员\n电话：139 0955 0004\n邮箱：li@example.cn"
    )
    assert "已提交登记（登记号" in reply and "等待牵头部门审核" in reply
    with transaction(plan_loaded.sessions) as session:
        contact = session.scalars(select(Contact).where(Contact.name == "李娜")).one()
        assert contact.status is ContactStatus.PENDING and contact.phone == "13909550004"
        number = contact.id
    assert any(m["to"] == "YuJianKui" and f"批准 {number}" in m["text"] for m in chat.outbox())

    assert "正在等待牵头部门审核" in chat.send("newbie", "我的问题")
    assert f"已批准登记号 {number}" in chat.send("YuJianKui", f"批准 {number}")
    assert any(m["to"] == "newbie" and "已通过审核" in m["text"] for m in chat.outbox())
    assert "未销号" in chat.send("newbie", "我的问题") or "没有未销号" in chat.send("newbie", "我的问题")
    with transaction(plan_loaded.sessions) as session:
        assert session.get(Contact, number).status is ContactStatus.ACTIVE  # type: ignore[union-attr]


def test_coordinator_rejects_with_reason(chat: SimChat, plan_loaded: Database) -> None:
    chat.send("newbie", "登记\n单位：耕地保护科\n姓名：李娜\n职务：科员\n电话：13909550004")
    with transaction(plan_loaded.sessions) as session:
        number = session.scalars(select(Contact.id).where(Contact.name == "李娜")).one()
    assert "已驳回" in chat.send("YuJianKui", f"驳回 {number} 不是本单位人员")
    assert any(m["to"] == "newbie" and "不是本单位人员" in m["text"] for m in chat.outbox())
    assert "还未登记" in chat.send("newbie", "周报 本周工作")


def test_prelisted_unit_and_phone_is_active_at_once(chat: SimChat, plan_loaded: Database) -> None:
    reply = chat.send("LuHeJian", REGISTER_LU)
    assert "登记成功" in reply and "法制科" in reply
    assert count(plan_loaded, Contact, status=ContactStatus.PENDING) == 0
    assert "已登记问题 #1" in chat.send("LuHeJian", FULL_ISSUE)


def test_unknown_unit_gets_closest_names_and_the_dialog_asks_again(chat: SimChat, plan_loaded: Database) -> None:
    reply = chat.send("newbie", "登记\n单位：法治科\n姓名：张三\n职务：科员\n电话：13800000000")
    assert "未找到单位「法治科」" in reply and "法制科" in reply
    assert count(plan_loaded, Contact, name="张三") == 0
    assert "已提交登记" in chat.send("newbie", "法制科")


def test_registration_asks_for_missing_fields_and_rejects_a_bad_phone(chat: SimChat) -> None:
    assert "单位名称" in chat.send("newbie", "登记")
    assert "姓名" in chat.send("newbie", "耕地保护科")
    assert "职务" in chat.send("newbie", "李娜")
    assert "联系电话" in chat.send("newbie", "科员")
    assert "不是有效的电话号码" in chat.send("newbie", "12345")
    assert "已提交登记" in chat.send("newbie", "13909550004")


def test_alias_and_full_width_input_are_understood(chat: SimChat) -> None:
    reply = chat.send("zhidui2", "【登记】\n单位：　支队\n姓名：赵六\n职务：队员\n电话：１３９０９５５０００９")
    assert "已提交登记" in reply and "13909550009" in reply


# --- issues -------------------------------------------------------------------------------------------


def test_liaison_logs_an_issue_in_one_message(chat: SimChat, plan_loaded: Database) -> None:
    chat.send("LuHeJian", REGISTER_LU)
    reply = chat.send("LuHeJian", FULL_ISSUE)
    assert "已登记问题 #1「执法证件未按期年检」" in reply and "2020年9月10日" in reply
    logged = issue(plan_loaded, 1)
    assert (logged.source, logged.focus_area, logged.owner, logged.due) == (
        "专项检查",
        "队伍建设",
        "张三",
        date(2020, 9, 10),
    )
    assert logged.status is IssueStatus.OPEN and logged.year == 2020
    assert count(plan_loaded, AuditEntry, action="issue.create") == 1


def test_guided_issue_dialog_asks_each_missing_field_and_cancel_leaves(chat: SimChat, plan_loaded: Database) -> None:
    chat.send("LuHeJian", REGISTER_LU)
    assert "线索名称" in chat.send("LuHeJian", "问题")
    assert "线索来源" in chat.send("LuHeJian", "案卷归档不及时")
    assert "「线索来源」没有「路边听说」这一项" in chat.send("LuHeJian", "路边听说")
    assert "整治重点" in chat.send("LuHeJian", "7")  # the 7th source: 专项检查
    assert "线索内容" in chat.send("LuHeJian", "履行职责")
    assert "整改措施" in chat.send("LuHeJian", "2019年案卷有12卷未归档")
    assert "整改目标" in chat.send("LuHeJian", "限期归档")
    assert "责任人" in chat.send("LuHeJian", "全部归档")
    assert "完成时限" in chat.send("LuHeJian", "王五")
    assert "无法识别日期" in chat.send("LuHeJian", "尽快")
    assert "已登记问题 #1" in chat.send("LuHeJian", "九月下旬")
    assert issue(plan_loaded, 1).due == date(2020, 9, 30)
    assert issue(plan_loaded, 1).source == "专项检查"

    assert "线索来源" in chat.send("LuHeJian", "问题\n线索名称：第二个问题")
    assert "已取消" in chat.send("LuHeJian", "取消")
    assert count(plan_loaded, Issue) == 1
    assert "没有需要取消" in chat.send("LuHeJian", "取消")


def test_progress_percent_then_rectified(chat: SimChat, plan_loaded: Database) -> None:
    chat.send("LuHeJian", REGISTER_LU)
    chat.send("LuHeJian", FULL_ISSUE)
    assert "整改中 60%" in chat.send("LuHeJian", "进展 #12 60%".replace("12", "1") + " 已完成证件审验")
    assert issue(plan_loaded, 1).percent == 60 and issue(plan_loaded, 1).status is IssueStatus.IN_PROGRESS
    reply = chat.send("LuHeJian", "进展 1 已整改 已销号")
    assert "已销号" in reply and "整改率 100%" in reply
    rectified = issue(plan_loaded, 1)
    assert rectified.status is IssueStatus.RECTIFIED and rectified.percent == 100
    assert count(plan_loaded, Progress) == 2
    assert "已于" in chat.send("LuHeJian", "进展 一 整改中")  # a rectified issue is not reopened by chat
    assert count(plan_loaded, Progress) == 2


def test_a_rectification_reports_the_rate_of_the_liaisons_own_unit(chat: SimChat, plan_loaded: Database) -> None:
    chat.send("LuHeJian", REGISTER_LU)
    chat.send("LuHeJian", FULL_ISSUE)
    chat.send("LuHeJian", FULL_ISSUE.replace("执法证件未按期年检", "案卷不规范"))
    chat.send("MaQiang", FULL_ISSUE.replace("执法证件未按期年检", "辅助人员单独执法"))  # another unit's, open
    assert "本单位整改率 50%（1/2）" in chat.send("LuHeJian", "进展 2 已整改")
    assert "本单位整改率 100%（1/1）" in chat.send("MaQiang", "进展 3 已整改")


def test_progress_with_100_percent_and_chinese_number(chat: SimChat, plan_loaded: Database) -> None:
    chat.send("LuHeJian", REGISTER_LU)
    chat.send("LuHeJian", FULL_ISSUE)
    assert "无法" not in chat.send("LuHeJian", "进展 第一号 整改中 已约谈")
    assert "100% 即已整改" in chat.send("LuHeJian", "进展 1 整改中 100%")
    assert "请写明整改状态" in chat.send("LuHeJian", "进展 1 随便说说")
    assert "没有编号为 #9" in chat.send("LuHeJian", "进展 9 50%")
    assert "0 到 100" in chat.send("LuHeJian", "进展 1 120%")
    assert "已销号" in chat.send("LuHeJian", "进展 1 100%")  # docs/chat-grammar.md: 100% marks it rectified
    assert issue(plan_loaded, 1).status is IssueStatus.RECTIFIED


def test_liaison_cannot_report_for_another_unit(chat: SimChat, plan_loaded: Database) -> None:
    chat.send("LuHeJian", REGISTER_LU)
    chat.send("LuHeJian", FULL_ISSUE)  # #1 belongs to 法制科
    reply = chat.send("MaQiang", "进展 1 已整改")  # 马强 is 执法监察支队's liaison
    assert "不是「执法监察支队」的问题" in reply
    assert issue(plan_loaded, 1).status is IssueStatus.OPEN
    assert count(plan_loaded, Progress) == 0
    with transaction(plan_loaded.sessions) as session:
        denied = session.scalars(select(AuditEntry).where(AuditEntry.action == "denied")).one()
        assert denied.actor == "sim:MaQiang" and denied.detail["command"] == "进展"
    assert "只能查看本单位" in chat.send("MaQiang", "汇总 法制科")


def test_my_issues_lists_overdue_first(chat: SimChat, plan_loaded: Database, clock: ManualClock) -> None:
    chat.send("LuHeJian", REGISTER_LU)
    chat.send("LuHeJian", FULL_ISSUE)
    chat.send("LuHeJian", FULL_ISSUE.replace("执法证件未按期年检", "案卷不规范").replace("9月10日前", "7月20日"))
    clock.advance(timedelta(days=10))  # 7月25日: #2 is overdue
    reply = chat.send("LuHeJian", "我的问题")
    assert "其中逾期 1 个" in reply
    assert reply.index("#2 案卷不规范") < reply.index("#1 执法证件未按期年检")
    assert "已逾期5天" in reply


# --- weekly report, stats, deliverables -----------------------------------------------------------------


def test_weekly_report_replaces_and_says_so(chat: SimChat, plan_loaded: Database) -> None:
    chat.send("LuHeJian", REGISTER_LU)
    assert "已收到「法制科」第29周周报" in chat.send("LuHeJian", "周报 本周完成执法案卷评查3件")
    reply = chat.send("LuHeJian", "周报：本周完成执法案卷评查5件")
    assert "已更新" in reply and "替换了" in reply
    with transaction(plan_loaded.sessions) as session:
        report = session.scalars(select(WeeklyReport)).one()
        assert report.text == "本周完成执法案卷评查5件" and report.revisions == 2 and not report.late


def test_weekly_report_after_the_due_time_is_late(chat: SimChat, plan_loaded: Database, clock: ManualClock) -> None:
    chat.send("LuHeJian", REGISTER_LU)
    clock.set(at("2020-07-17 12:30"))  # Friday, after 12:00
    assert "记为迟报" in chat.send("LuHeJian", "周报 本周工作情况如下")
    with transaction(plan_loaded.sessions) as session:
        assert session.scalars(select(WeeklyReport)).one().late


def test_weekly_report_dialog_when_text_is_missing(chat: SimChat, plan_loaded: Database) -> None:
    chat.send("LuHeJian", REGISTER_LU)
    assert "本周专项整治工作信息" in chat.send("LuHeJian", "周报")
    assert "已收到" in chat.send("LuHeJian", "本周组织执法人员培训一次")
    assert count(plan_loaded, WeeklyReport) == 1


def test_stats_report(chat: SimChat, plan_loaded: Database) -> None:
    chat.send("LuHeJian", REGISTER_LU)
    assert "处理 2 人，党纪政务处分 1 人" in chat.send("LuHeJian", "统计 队伍建设 处理2人 处分1人")
    assert "处理 3 人" in chat.send("LuHeJian", "统计 队伍建设方面 处理三人")
    with transaction(plan_loaded.sessions) as session:
        row = session.scalars(select(StatsReport)).one()
        assert (row.focus_area, row.handled, row.disciplined) == ("队伍建设", 3, 1)
    assert "请写明整治重点" in chat.send("LuHeJian", "统计 其他 处理1人")
    assert "不能多于" in chat.send("LuHeJian", "统计 制度建设 处理1人 处分2人")
    assert count(plan_loaded, StatsReport) == 1


def test_submit_deliverable(chat: SimChat, plan_loaded: Database) -> None:
    chat.send("LuHeJian", REGISTER_LU)
    assert "行政裁量基准" in chat.send("LuHeJian", "报送")
    assert "已登记「法制科」报送「行政裁量基准」" in chat.send("LuHeJian", "报送 裁量基准")
    assert "无需重复报送" in chat.send("LuHeJian", "报送 行政裁量基准")
    late = chat.send("LuHeJian", "报送 专项整治联系人")
    assert "已逾期" in late
    assert count(plan_loaded, Submission) == 2
    assert "行政裁量基准" not in chat.send("WangFang", "报送")  # 办公室 does not owe it


def test_submissions_are_dated_on_the_campaigns_day(chat: SimChat, clock: ManualClock) -> None:
    clock.set(at("2020-07-16 07:30"))  # Beijing time; still the 15th in UTC
    chat.send("LuHeJian", REGISTER_LU)
    chat.send("LuHeJian", "报送 裁量基准")
    assert "行政裁量基准（9月30日前，已报送（7月16日））" in chat.send("LuHeJian", "报送 没有这一项")


# --- coordinators -------------------------------------------------------------------------------------


def seed_campaign_activity(chat: SimChat, clock: ManualClock) -> None:
    """Three issues for 法制科 (one rectified, one overdue), one for 支队; two weekly reports."""
    chat.send("LuHeJian", REGISTER_LU)
    chat.send("LuHeJian", FULL_ISSUE)
    for title, due in (("案卷不规范", "7月10日"), ("公示不全", "7月1日")):  # already past: confirmed as such
        assert "早于今天" in chat.send(
            "LuHeJian", FULL_ISSUE.replace("执法证件未按期年检", title).replace("9月10日前", due)
        )
        chat.send("LuHeJian", "确认")
    chat.send("MaQiang", FULL_ISSUE.replace("执法证件未按期年检", "辅助人员单独执法"))
    chat.send("LuHeJian", "进展 3 已整改")
    chat.send("MaQiang", "进展 4 30% 已约谈")
    chat.send("LuHeJian", "周报 本周工作")
    chat.send("MaQiang", "周报 本周工作")


def test_coordinator_summary_numbers(chat: SimChat, clock: ManualClock) -> None:
    seed_campaign_activity(chat, clock)
    reply = chat.send("YuJianKui", "汇总")
    assert "当前阶段：自查整改阶段（至 9月30日，还剩 77 天）" in reply
    assert "联络员登记：3/4 个单位" in reply
    assert "问题：共 4 个，未整改 2，整改中 1，已整改 1，逾期 1" in reply
    assert "整改率：25.0%（1/4），目标 90%（9月10日前，还剩 57 天）" in reply
    assert "本周周报（第29周）：2/4 个单位已报送；未报送：办公室、耕地保护科" in reply
    assert "· 行政裁量基准（9月30日，还剩 77 天）：未报送 执法监察支队、法制科" in reply
    assert "· 法制科：逾期问题1个，未报送专项整治联系人" in reply


def test_coordinator_unit_summary_overdue_and_missing(chat: SimChat, clock: ManualClock) -> None:
    seed_campaign_activity(chat, clock)
    unit = chat.send("YuJianKui", "汇总 法制科")
    assert "【法制科】" in unit and "问题：共 3 个，未整改 2，整改中 0，已整改 1，逾期 1" in unit
    assert "整改率：33.3%（1/3）" in unit
    overdue = chat.send("YuJianKui", "逾期")
    assert "逾期未整改问题 1 个" in overdue and "【法制科】1 个" in overdue and "#2 案卷不规范" in overdue
    missing = chat.send("YuJianKui", "未报送")
    assert "本周周报（第29周）未报送 2 个单位：办公室、耕地保护科" in missing
    assert "专项整治联系人（6月10日，已过 35 天）：未报送 办公室、执法监察支队、法制科、耕地保护科" in missing
    assert "未找到单位「宣传科」" in chat.send("YuJianKui", "汇总 宣传科")
    assert "【法制科】" in chat.send("LuHeJian", "汇总")  # a liaison sees their own unit


def test_liaison_commands_are_refused_to_coordinators_and_vice_versa(chat: SimChat, plan_loaded: Database) -> None:
    assert "仅限牵头部门" in chat.send("MaQiang", "批准 1")
    assert "仅限牵头部门" in chat.send("MaQiang", "逾期")
    assert "供各单位联络员使用" in chat.send("YuJianKui", "统计 队伍建设 处理1人 处分0人")
    assert "周报：0/4 个单位已报送" in chat.send("YuJianKui", "周报 本周")  # a coordinator's 周报 reads the reports
    assert count(plan_loaded, AuditEntry, action="denied") == 3


def test_every_message_gets_a_reply_with_the_role_menu(chat: SimChat) -> None:
    for user, role in (("stranger9", "未登记用户"), ("MaQiang", "联络员"), ("YuJianKui", "牵头部门协调人")):
        reply = chat.send(user, "今天天气不错")
        assert "没有看懂" in reply and f"您的身份：{role}" in reply and "帮助" in reply
    assert "汇总" in chat.send("YuJianKui", "帮助") and "批准" in chat.send("YuJianKui", "帮助")
    assert "批准" not in chat.send("MaQiang", "帮助") and "进展" in chat.send("MaQiang", "帮助")
    assert "请发送文字" in chat.send("MaQiang", "   \n  ")


def test_a_retried_message_id_is_processed_once(chat: SimChat, plan_loaded: Database) -> None:
    chat.send("LuHeJian", REGISTER_LU)
    first = chat.send("LuHeJian", FULL_ISSUE, msgid="m-1")
    again = chat.send("LuHeJian", FULL_ISSUE, msgid="m-1")
    assert first == again and count(plan_loaded, Issue) == 1


def test_identity_comes_from_the_user_id_not_the_text(chat: SimChat, plan_loaded: Database) -> None:
    chat.send("LuHeJian", REGISTER_LU)
    chat.send("LuHeJian", FULL_ISSUE)
    # 马强 claims to be from 法制科 in the text; he is still 支队's liaison and #1 stays untouched.
    assert "联系牵头部门" in chat.send("MaQiang", "登记\n单位：法制科\n姓名：马强\n职务：科员\n电话：13909550003")
    with transaction(plan_loaded.sessions) as session:
        identity = session.scalars(select(ChatIdentity).where(ChatIdentity.external_id == "MaQiang")).one()
        assert identity.contact is not None and identity.contact.unit.name == "执法监察支队"
    assert "不是「执法监察支队」的问题" in chat.send("MaQiang", "进展 1 已整改")
    assert issue(plan_loaded, 1).status is IssueStatus.OPEN


def test_control_characters_in_a_message_are_dropped_on_every_database(chat: SimChat, plan_loaded: Database) -> None:
    assert "已收到" in chat.send("MaQiang", "周报 本周\x00完成\x07案卷评查")  # PostgreSQL refuses NUL in text
    with transaction(plan_loaded.sessions) as session:
        assert session.scalars(select(WeeklyReport.text)).one() == "本周完成案卷评查"
