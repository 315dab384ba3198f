"""The spine's liaison and coordinator stories, told as signed DingTalk robot callbacks."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select

from bot.app import create_app
from core.clock import ManualClock
from core.statuses import ContactStatus, IssueStatus
from storage.db import transaction
from storage.models import AuditEntry, ChatIdentity, Contact, Issue, OutboxMessage
from tests.bot.dingtalk.conftest import COORDINATOR_STAFF, LU_STAFF, MA_STAFF, DingTalkChat, dingtalk_settings
from tests.bot.dingtalk.fake_dingtalk import FakeDingTalk
from tests.bot.test_dashboard_access import log_in
from tests.bot.test_sim_stories import FULL_ISSUE, REGISTER_LU, count, issue
from tests.conftest import Database, SimChat
from tests.factories import set_password

NEWCOMER = "0299887766554433"


def outbox(db: Database) -> list[tuple[str, str, str]]:
    with transaction(db.sessions) as session:
        rows = session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))
        return [(m.channel, m.target, m.text) for m in rows]


def test_a_prelisted_liaison_registers_logs_and_rectifies_an_issue(ding: DingTalkChat, plan_loaded: Database) -> None:
    assert "登记成功" in ding.send(LU_STAFF, REGISTER_LU)
    with transaction(plan_loaded.sessions) as session:
        identity = session.scalars(select(ChatIdentity).where(ChatIdentity.external_id == LU_STAFF)).one()
        assert identity.platform == "dingtalk" and identity.contact is not None
        assert identity.contact.name == "陆和建" and identity.contact.status is ContactStatus.ACTIVE

    assert "已登记问题 #1「执法证件未按期年检」" in ding.send(LU_STAFF, FULL_ISSUE)
    assert "整改中 60%" in ding.send(LU_STAFF, "进展 #1 60% 已完成证件审验")
    assert "#1 执法证件未按期年检" in ding.send(LU_STAFF, "我的问题")
    assert "已销号" in ding.send(LU_STAFF, "进展 1 已整改 已销号")
    assert issue(plan_loaded, 1).status is IssueStatus.RECTIFIED
    assert "已收到「法制科」第29周周报" in ding.send(LU_STAFF, "周报 本周完成执法案卷评查3件")


def test_the_guided_dialog_works_message_by_message(ding: DingTalkChat, plan_loaded: Database) -> None:
    assert "单位名称" in ding.send(NEWCOMER, "登记")
    assert "未找到单位「法治科」" in ding.send(NEWCOMER, "法治科")
    assert "姓名" in ding.send(NEWCOMER, "耕地保护科")
    assert "职务" in ding.send(NEWCOMER, "李娜")
    assert "联系电话" in ding.send(NEWCOMER, "科员")
    assert "已提交登记" in ding.send(NEWCOMER, "13909550004")
    assert count(plan_loaded, Contact, name="李娜", status=ContactStatus.PENDING) == 1


def test_a_registration_is_approved_by_the_coordinator_in_the_work_group(
    ding: DingTalkChat, dingtalk_people: Database
) -> None:
    ding.send(NEWCOMER, "登记\n单位：耕地保护科\n姓名：李娜\n职务：科员\n电话：13909550004")
    with transaction(dingtalk_people.sessions) as session:
        number = session.scalars(select(Contact.id).where(Contact.name == "李娜")).one()
    # 俞建奎 is told on both platforms he uses: WeCom (no app configured: the simulator) and DingTalk.
    asks = [(channel, target) for channel, target, text in outbox(dingtalk_people) if f"批准 {number}" in text]
    assert sorted(asks) == [("dingtalk_work", COORDINATOR_STAFF), ("sim", "YuJianKui")]

    assert f"已批准登记号 {number}" in ding.send(COORDINATOR_STAFF, f"批准 {number}", group=True)
    assert ("dingtalk_work", NEWCOMER) in [(c, t) for c, t, text in outbox(dingtalk_people) if "已通过审核" in text]
    assert "没有未销号" in ding.send(NEWCOMER, "我的问题")


def test_a_liaison_on_both_platforms_is_one_person(
    dingtalk_people: Database, fake_dingtalk: FakeDingTalk, clock: ManualClock
) -> None:
    """马强 logs an issue from DingTalk and reports progress from WeCom (the simulator speaks as WeCom; beside
    DingTalk it is switched on and used by a logged-in coordinator)."""
    set_password(dingtalk_people)
    settings = dingtalk_settings(dingtalk_people, fake_dingtalk, simulator=True, secret_key="both-platforms")
    with TestClient(create_app(settings, clock=clock)) as client:
        ding = DingTalkChat(client, clock)
        assert "已登记问题 #1" in ding.send(MA_STAFF, FULL_ISSUE)
        log_in(client)
        assert "整改中 30%" in SimChat(client).send("MaQiang", "进展 1 30% 已约谈")
        with transaction(dingtalk_people.sessions) as session:
            logged = session.scalars(select(Issue).where(Issue.number == 1)).one()
            assert logged.percent == 30 and logged.unit.name == "执法监察支队"
        assert "#1 执法证件未按期年检" in ding.send(MA_STAFF, "我的问题")


def test_coordinator_summaries_in_the_group(ding: DingTalkChat, dingtalk_people: Database) -> None:
    ding.send(LU_STAFF, REGISTER_LU)
    assert "早于今天" in ding.send(LU_STAFF, FULL_ISSUE.replace("9月10日前", "7月10日"))
    ding.send(LU_STAFF, "确认")  # the due date is already past: logged as overdue once confirmed
    ding.send(MA_STAFF, "周报 本周工作")
    summary = ding.send(COORDINATOR_STAFF, "汇总", group=True)
    assert "联络员登记：3/4 个单位" in summary and "问题：共 1 个" in summary and "逾期 1" in summary
    assert "【法制科】1 个" in ding.send(COORDINATOR_STAFF, "逾期", group=True)
    assert "未报送 3 个单位：办公室、法制科、耕地保护科" in ding.send(COORDINATOR_STAFF, "未报送", group=True)


def test_roles_are_enforced_and_audited_with_the_dingtalk_identity(
    ding: DingTalkChat, dingtalk_people: Database
) -> None:
    assert "仅限牵头部门" in ding.send(MA_STAFF, "逾期", group=True)
    assert "没有看懂" in ding.send(MA_STAFF, "今天天气不错") and "您的身份：联络员" in ding.send(MA_STAFF, "帮助")
    with transaction(dingtalk_people.sessions) as session:
        denied = session.scalars(select(AuditEntry).where(AuditEntry.action == "denied")).one()
        assert denied.actor == f"dingtalk:{MA_STAFF}"
    assert count(dingtalk_people, Issue) == 0
