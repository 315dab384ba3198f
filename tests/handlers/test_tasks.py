"""Task division in chat (任务 / 我的任务 / 汇总), told through the simulator with tests/fixtures/tasks.yaml."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from core.clock import ManualClock
from plan.schema import read_plan
from plan.sync import load_plan
from storage.db import transaction
from storage.models import AuditEntry, TaskProgress
from tests.conftest import FIXTURES, Database, SimChat, at


@pytest.fixture
def plan_loaded(db: Database, clock: ManualClock) -> Database:
    """The `chat` fixture's campaign is the task division here (2020-07-15: task 6 is 15 days overdue)."""
    with transaction(db.sessions) as session:
        load_plan(session, read_plan(FIXTURES / "tasks.yaml"), now=clock.now())
    return db


def progress_rows(db: Database) -> list[TaskProgress]:
    with transaction(db.sessions) as session:
        return list(session.scalars(select(TaskProgress).order_by(TaskProgress.id)))


def test_liaison_lists_the_units_tasks_overdue_first(chat: SimChat) -> None:
    reply = chat.send("MaQiang", "我的任务")
    assert reply.startswith("「执法监察支队」的任务 4 项（配合1、责任3）")
    assert reply.index("任务6〔配合〕") < reply.index("任务8〔责任〕") < reply.index("任务19〔责任〕")
    assert "任务6〔配合〕严格落实行政执法人员资格管理和持证上岗制度｜2020年6月30日前｜由牵头单位完成" in reply
    # the campaign started in June: February's plan is first owed in 2021
    assert "任务19〔责任〕制定行政执法任务年度工作计划｜每年2月底前（2021年为2月28日）｜还剩228天" in reply
    assert "长期坚持 1 项：任务1" in reply


def test_responsible_units_each_complete_their_share(chat: SimChat, plan_loaded: Database) -> None:
    assert "已记录「执法监察支队」完成任务8。还有 2 个单位未完成" in chat.send("MaQiang", "任务 8 完成 清单已公布")
    assert "无需重复报告" in chat.send("MaQiang", "任务8完成")
    assert "还有 1 个单位未完成" in chat.send("WangFang", "任务 #8 已完成")
    last = chat.send("LiNa", "任务 8 完成")
    assert "所有责任单位均已完成" in last and "转入长期坚持" in last
    assert "状态：已完成，转入长期坚持" in chat.send("QiShaoBo", "任务 8")
    assert [(p.done, p.note) for p in progress_rows(plan_loaded)] == [(True, "清单已公布"), (True, None), (True, None)]


def test_a_partner_reports_progress_but_only_the_lead_completes(chat: SimChat, plan_loaded: Database) -> None:
    reply = chat.send("MaQiang", "任务 6 完成")
    assert "是任务6的配合单位，完成情况由司法局报告" in reply
    assert "已记录「执法监察支队」任务6进展：已清理证件12本" in chat.send("MaQiang", "任务 6 进展：已清理证件12本")
    assert "（逾期完成）" in chat.send("YuJK", "任务 6 完成")
    assert [(p.done, p.unit_id) for p in progress_rows(plan_loaded)] == [(False, 3), (True, 1)]


def test_ongoing_tasks_take_progress_not_completion(chat: SimChat, plan_loaded: Database) -> None:
    assert "长期坚持事项，没有完成之说" in chat.send("LiNa", "任务 1 完成")
    assert "请写明进展情况" in chat.send("LiNa", "任务 1 进展")
    assert "已记录" in chat.send("LiNa", "任务 1 进展 本季度组织学习4次")
    assert "最近：柔远镇 7月15日 报告进展：本季度组织学习4次" in chat.send("LiNa", "任务 1")


def test_a_unit_cannot_report_on_a_task_it_does_not_share(chat: SimChat, plan_loaded: Database) -> None:
    assert "没有分配给「柔远镇」" in chat.send("LiNa", "任务 19 完成")
    assert "没有编号为 99 的任务" in chat.send("LiNa", "任务 99 进展 好")
    assert "请写明是「进展」还是「完成」" in chat.send("LiNa", "任务 8 做了一些工作")
    assert "供各单位联络员使用" in chat.send("QiShaoBo", "任务 8 完成")
    assert progress_rows(plan_loaded) == []
    with transaction(plan_loaded.sessions) as session:
        denied = session.scalars(select(AuditEntry).where(AuditEntry.action == "denied")).one()
        assert denied.actor == "sim:LiNa" and denied.detail["reason"] == "not assigned"


def test_yearly_task_is_owed_again_next_year(chat: SimChat, clock: ManualClock, plan_loaded: Database) -> None:
    assert "完成任务19（2021年度）" in chat.send("MaQiang", "任务 19 完成 2021年度计划已印发")
    assert "本单位已完成" in chat.send("MaQiang", "我的任务")
    clock.set(at("2022-03-05 10:00"))
    reply = chat.send("MaQiang", "我的任务")
    assert "每年2月底前（2022年为2月28日）｜已逾期5天" in reply
    assert "完成任务19（2022年度）（逾期完成）" in chat.send("MaQiang", "任务 19 完成")
    assert [p.period for p in progress_rows(plan_loaded)] == [2021, 2022]


def test_coordinator_summary_shows_tasks_per_lead_unit(chat: SimChat) -> None:
    chat.send("MaQiang", "任务 8 完成")
    reply = chat.send("QiShaoBo", "汇总")
    assert "任务分工：共 5 项（有时限 3 项，已完成 0、逾期 1；其中每年 1 项；长期坚持 2 项）" in reply
    assert "· 司法局：2 项，有时限 1 项（已完成 0，逾期 1）" in reply
    assert "· 无牵头单位（由责任单位分别完成）：3 项，有时限 2 项（已完成 0，逾期 0）" in reply
    assert "· 任务6（6月30日）未完成：司法局" in reply
    unit = chat.send("QiShaoBo", "汇总 司法局")
    assert "任务：牵头 2 项；逾期 任务6（6月30日）" in unit
    details = chat.send("QiShaoBo", "任务 15")
    assert "牵头单位：司法局" in details and "（方案中未对应到单位：政府办、各行业主管部门）" in details
    assert "任务 <编号>" in chat.send("QiShaoBo", "任务")
