"""Liaisons and coordinators as they really type, one story per point of the conversation design, each told
twice: through the simulator API and as real encrypted WeCom callbacks (the same `send(user, text)`)."""

from __future__ import annotations

import re
from datetime import date

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from typer.testing import CliRunner

from bot.app import create_app
from bot.cli import app as cli
from bot.settings import Settings
from core.clock import ManualClock
from core.statuses import ContactStatus, IssueStatus
from plan.schema import parse_plan
from plan.sync import load_plan
from storage.db import transaction
from storage.models import Contact, Issue, Progress, StatsReport, WeeklyReport
from tests.bot.test_sim_stories import count
from tests.bot.wecom.conftest import qyapi, qyapi_server, side, wecom, wecom_client  # noqa: F401 — fixtures
from tests.conftest import FIXTURES, Database, SimChat, at, make_settings
from tests.factories import set_password

PLAN = (FIXTURES / "plan.yaml").read_text(encoding="utf-8")
ONE_LINE_ISSUE = (
    "问题 线索名称：执法记录仪未全程使用 线索来源：专项检查 整治重点：队伍建设 "
    "线索内容：现场执法未开记录仪 整改措施：加强培训 整改目标：全程记录 责任人：马强 完成时限："
)


@pytest.fixture(params=["sim", "wecom"])
def talk(request: pytest.FixtureRequest) -> SimChat:
    """Whoever sends through the simulator API or as WeCom would relay the message (a test that uses it names
    plan_loaded too, so that pytest runs it on each database)."""
    return request.getfixturevalue("chat" if request.param == "sim" else "wecom")  # type: ignore[no-any-return]


def one_issue(db: Database, number: int) -> Issue:
    with transaction(db.sessions) as session:
        return session.scalars(select(Issue).where(Issue.number == number)).one()


def test_1_fields_on_one_line_in_any_form(talk: SimChat, plan_loaded: Database) -> None:
    reply = talk.send("ZhaoLiu", "登记 单位：耕地保护科，姓名：赵六　职务：副科长；联系电话：13800000002 性别：男")
    assert "没有「性别」这一项" in reply and "已提交登记" in reply and "职务：副科长" in reply
    with transaction(plan_loaded.sessions) as session:
        contact = session.scalars(select(Contact).where(Contact.name == "赵六")).one()
        assert (contact.unit.name, contact.title, contact.phone) == ("耕地保护科", "副科长", "13800000002")

    reply = talk.send(
        "MaQiang",
        "问题 【名称】执法记录仪未全程使用【来源】专项检查【重点】队伍建设"
        "【内容】现场执法未开记录仪【措施】加强培训【目标】全程记录【负责人】马强【时限】9月10日前",
    )
    assert "已登记问题 #1「执法记录仪未全程使用」" in reply and "还差" not in reply
    logged = one_issue(plan_loaded, 1)
    assert (logged.source, logged.focus_area, logged.owner, logged.due) == (
        "专项检查",
        "队伍建设",
        "马强",
        date(2020, 9, 10),
    )

    assert "请发送「整治重点」" in talk.send("MaQiang", "问题 线索名称：案卷归档不及时 线索来源：信访举报")
    assert "请发送「整改措施」" in talk.send("MaQiang", "线索内容：经查：2019年案卷12卷未归档 整治重点：制度建设")


def test_2_a_command_inside_a_dialog_is_never_the_answer(talk: SimChat, plan_loaded: Database) -> None:
    talk.send("MaQiang", "周报 本周完成执法案卷评查3件")
    assert "再发送将替换原周报" in talk.send("MaQiang", "周报")
    reply = talk.send("MaQiang", "统计 队伍建设 处理2人 处分1人")
    assert "没有作为报送周报的内容" in reply and "回复「继续」" in reply and "回复「切换」" in reply
    assert "本周专项整治工作信息" in talk.send("MaQiang", "继续")
    mine = talk.send("MaQiang", "我的问题")
    assert "没有未销号的问题" in mine and "您正在报送周报" in mine
    talk.send("MaQiang", "统计 队伍建设 处理2人 处分1人")
    assert "处理 2 人" in talk.send("MaQiang", "切换")
    with transaction(plan_loaded.sessions) as session:
        assert session.scalars(select(WeeklyReport.text)).one() == "本周完成执法案卷评查3件"  # not replaced
        assert session.scalars(select(StatsReport.handled)).one() == 2

    talk.send("MaQiang", "问题")
    assert "请发送「线索名称」" in talk.send("MaQiang", "我的问题")
    assert "已取消登记问题" in talk.send("MaQiang", "取消")
    assert count(plan_loaded, Issue) == 0
    talk.send("Newcomer", "登记")
    reply = talk.send("Newcomer", "汇总")
    assert "未找到单位" not in reply and "请发送您所在的单位名称" in reply


def test_3_issues_referred_to_as_people_write_them(talk: SimChat, plan_loaded: Database) -> None:
    talk.send("MaQiang", ONE_LINE_ISSUE + "9月10日前")
    assert "整改中 60%（原为 未整改）" in talk.send("MaQiang", "1号问题 60%")
    assert "整改中（完成比例仍为 60%），已约谈" in talk.send("MaQiang", "第一条 整改中 已约谈")
    assert "#1 执法记录仪未全程使用｜整改中 60%" in talk.send("MaQiang", "#1")
    assert "已销号" in talk.send("MaQiang", "问题1已整改")
    assert one_issue(plan_loaded, 1).status is IssueStatus.RECTIFIED
    assert count(plan_loaded, Progress) == 3


def test_4_a_registered_liaison_changes_only_the_fields_given(talk: SimChat, plan_loaded: Database) -> None:
    review = talk.send("WangFang", "登记")
    assert "现有信息" in review and "电话：13909550001" in review and "请发送您所在的单位名称" not in review
    reply = talk.send("WangFang", "电话：+86 139-0955-0033")
    assert "「电话」已由「13909550001」改为「13909550033」" in reply and "职务：副主任" in reply
    assert "0955-7655608-123" in talk.send("WangFang", "登记 办公电话：0955-7655608 转 123")
    with transaction(plan_loaded.sessions) as session:
        contact = session.scalars(select(Contact).where(Contact.name == "王芳")).one()
        assert (contact.phone, contact.title, contact.status) == ("0955-7655608-123", "副主任", ContactStatus.ACTIVE)


WINTER_PLAN = """
campaign: {name: 冬季执法专项整治, start: 2026-12-01, end: 2027-02-01}
units:
  - {name: 执法监察支队, contacts: [{name: 马强, phone: "13909550003", wecom_userid: MaQiang}]}
"""


def test_5_a_due_date_outside_the_campaign_is_asked_about(
    talk: SimChat, plan_loaded: Database, clock: ManualClock
) -> None:
    clock.set(at("2026-12-10 10:00"))
    with transaction(plan_loaded.sessions) as session:
        load_plan(session, parse_plan(WINTER_PLAN), now=clock.now())
    reply = talk.send("MaQiang", ONE_LINE_ISSUE + "9月下旬")
    assert "「9月下旬」按 2027年9月30日 理解，晚于专项整治结束日 2027年2月1日：回复「确认」或重新发送完成时限" in reply
    assert count(plan_loaded, Issue) == 0
    assert "早于今天（2026年12月10日）" in talk.send("MaQiang", "12月1日前")
    assert "已登记问题 #1" in talk.send("MaQiang", "1月20日")
    assert one_issue(plan_loaded, 1).due == date(2027, 1, 20)
    talk.send("MaQiang", ONE_LINE_ISSUE.replace("执法记录仪未全程使用", "执法文书不规范") + "3月底")
    assert "已登记问题 #2" in talk.send("MaQiang", "确认")
    assert one_issue(plan_loaded, 2).due == date(2027, 3, 31)


def test_6_choices_suggest_the_nearest_and_print_the_list_once(talk: SimChat, plan_loaded: Database) -> None:
    reply = talk.send("MaQiang", "问题 线索名称：执法记录仪未全程使用 线索来源：群众举报")
    assert "「群众举报」不在线索来源的选项中，是指「信访举报」吗？回复 1 确认" in reply
    assert reply.count("9. 例行督察") == 1
    assert "请发送「整治重点」" in talk.send("MaQiang", "1")
    reply = talk.send("MaQiang", "作风")
    assert "是指「队伍建设」吗？回复 4 确认" in reply and reply.count("5. 责任追究") == 1
    assert "请发送「线索内容」" in talk.send("MaQiang", "确认")
    reply = talk.send("MaQiang", "取消")
    assert "已取消" in reply
    reply = talk.send("MaQiang", ONE_LINE_ISSUE.replace("专项检查", "自查") + "9月10日前")
    assert "是指「专项检查」吗？回复 7 确认" in reply
    talk.send("MaQiang", "7")
    assert one_issue(plan_loaded, 1).source == "专项检查"


def test_7_small_talk_gets_one_short_line(talk: SimChat, plan_loaded: Database) -> None:
    for text in ("你好", "谢谢", "收到", "好的", "👍", "收到，马上落实"):
        reply = talk.send("MaQiang", text)
        assert "您的身份" not in reply and "没有看懂" not in reply and len(reply) <= 40, reply
    assert "发送「登记」" in talk.send("Stranger", "您好")
    confused = talk.send("MaQiang", "今天天气不错")
    assert "没有看懂" in confused and "您的身份：联络员" in confused


def test_8_coordinators_see_pending_registrations_and_name_units_briefly(talk: SimChat, plan_loaded: Database) -> None:
    talk.send("LiNa", "登记 单位：耕保 姓名：李娜 职务：科员 电话：13909550004")
    with transaction(plan_loaded.sessions) as session:
        number = session.scalars(select(Contact.id).where(Contact.name == "李娜")).one()
    listing = talk.send("YuJianKui", "批准")
    assert f"登记号 {number}：耕地保护科 李娜（科员） 13909550004" in listing
    assert f"已批准登记号 {number}" in talk.send("YuJianKui", f"同意 {number}")
    assert "目前没有待审核" in talk.send("YuJianKui", "驳回")
    assert "【耕地保护科】" in talk.send("YuJianKui", "汇总 耕地")
    assert "【执法监察支队】" in talk.send("YuJianKui", "汇总 监察")
    assert "【法制科】" in talk.send("YuJianKui", "汇总 法制")


def test_9_the_same_issue_twice_needs_a_confirmation(talk: SimChat, plan_loaded: Database) -> None:
    talk.send("MaQiang", ONE_LINE_ISSUE + "9月10日前")
    reply = talk.send("MaQiang", ONE_LINE_ISSUE.replace("执法记录仪未全程使用", "执法记录仪未全程使用问题") + "9月30日")
    assert "已有未销号的问题 #1「执法记录仪未全程使用」" in reply and "回复「确认」仍登记为新问题" in reply
    assert count(plan_loaded, Issue) == 1
    assert "已取消" in talk.send("MaQiang", "取消")
    talk.send("MaQiang", ONE_LINE_ISSUE + "9月30日")
    assert "已登记问题 #2" in talk.send("MaQiang", "确认")
    assert count(plan_loaded, Issue) == 2


CONTACT_FORM_PLAN = PLAN.replace(
    "{name: 专项整治联系人, due: 6月10日}", "{name: 专项整治联系人, due: 7月20日, kind: contacts}"
)


def _nudges(db: Database, monkeypatch: pytest.MonkeyPatch) -> str:
    """What `duban remind preview` says the group will be told about the contact form on its due day."""
    settings = Settings(_env_file=None, database_url=db.url)  # type: ignore[call-arg]
    monkeypatch.setattr("bot.cli.get_settings", lambda: settings)
    result = CliRunner().invoke(cli, ["remind", "preview", "--from", "2020-07-20", "--to", "2020-07-20"])
    assert result.exit_code == 0, result.output
    return result.output


def test_10_registration_submits_the_contact_form(
    talk: SimChat, plan_loaded: Database, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    with transaction(plan_loaded.sessions) as session:
        load_plan(session, parse_plan(CONTACT_FORM_PLAN), now=clock.now())
    assert "未报送 法制科、耕地保护科" in talk.send("YuJianKui", "未报送")
    assert "法制科、耕地保护科" in _nudges(plan_loaded, monkeypatch)

    reply = talk.send("LuHeJian", "登记 单位：法制科 姓名：陆和建 职务：法制科科长 电话：13909551234")
    assert "登记成功" in reply and "「法制科」的「专项整治联系人」已随登记报送" in reply
    assert "专项整治联系人（7月20日，还剩 5 天）：未报送 耕地保护科" in talk.send("YuJianKui", "未报送")
    assert "未报送：专项整治联系人" not in talk.send("YuJianKui", "汇总 法制科")
    nudges = _nudges(plan_loaded, monkeypatch)
    assert "耕地保护科" in nudges and "法制科" not in nudges.split("专项整治联系人", 1)[1]

    set_password(plan_loaded)
    with TestClient(create_app(make_settings(plan_loaded, secret_key="k"), clock=clock)) as dashboard:
        token = re.search(r'name="csrf" value="([^"]+)"', dashboard.get("/dashboard/login").text)
        assert token is not None
        dashboard.post("/dashboard/login", data={"login": "yu", "password": "correct horse", "csrf": token.group(1)})
        form = next(d for d in dashboard.get("/api/summary").json()["deliverables"] if d["name"] == "专项整治联系人")
    assert form["owing"] == ["耕地保护科"]
