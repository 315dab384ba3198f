"""What the chat fuzzing (test_fuzz_chat.py) found, pinned down: each hostile message gets a clear Chinese reply
and writes nothing it should not — on PostgreSQL these were database errors (the user got nothing, WeCom a 503)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import func, select

from handlers.message import Reply
from plan.schema import read_plan
from plan.sync import load_plan
from storage.db import transaction
from storage.models import Contact, Progress, StatsReport
from tests.conftest import FIXTURES, Database, at
from tests.handlers.test_fuzz_chat import speaker

Say = Callable[[str, str], Reply]


@pytest.fixture
def say(plan_loaded: Database) -> Say:
    from tests.factories import build_ledger

    build_ledger(plan_loaded)
    return speaker(plan_loaded)


def count(db: Database, model: type) -> int:
    with transaction(db.sessions) as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def text(reply: Reply) -> str:
    return "\n".join(reply.texts)


@pytest.mark.parametrize("number", ["99999999999", "2147483648", "99999999999999999999", "９９９９９９９９９９９"])
def test_progress_on_a_number_past_integer_is_no_such_issue(say: Say, plan_loaded: Database, number: str) -> None:
    before = count(plan_loaded, Progress)
    reply = text(say("MaQiang", f"进展 #{number} 已整改"))
    assert f"没有编号为 #{int(number)} 的问题" in reply
    assert count(plan_loaded, Progress) == before


@pytest.mark.parametrize("command", ["批准", "驳回"])
def test_deciding_a_registration_number_past_integer_is_no_such_registration(say: Say, command: str) -> None:
    reply = text(say("YuJianKui", f"{command} 99999999999"))
    assert "没有待审核的登记号 99999999999" in reply and "当前待审核" in reply


def test_a_task_number_past_integer_is_no_such_task(db: Database) -> None:
    with transaction(db.sessions) as session:
        load_plan(session, read_plan(FIXTURES / "tasks.yaml"), now=at("2020-07-15 10:00"))
    reply = text(speaker(db)("MaQiang", "任务 99999999999 完成"))
    assert "没有编号为 99999999999 的任务" in reply


@pytest.mark.parametrize(
    "figures", ["处理99999999999人 处分1人", "处理100001人 处分0人", "处理99999999999人 处分99999999999人"]
)
def test_stats_over_the_cap_are_refused_in_chinese(say: Say, plan_loaded: Database, figures: str) -> None:
    with transaction(plan_loaded.sessions) as session:
        before = [(s.handled, s.disciplined) for s in session.scalars(select(StatsReport).order_by(StatsReport.id))]
    assert "人数超过 100,000 人，请核对后重新发送" in text(say("MaQiang", f"统计 队伍建设 {figures}"))
    with transaction(plan_loaded.sessions) as session:
        assert [
            (s.handled, s.disciplined) for s in session.scalars(select(StatsReport).order_by(StatsReport.id))
        ] == before


def test_stats_at_the_cap_are_recorded(say: Say) -> None:
    assert "处理 100000 人，党纪政务处分 1 人" in text(say("MaQiang", "统计 队伍建设 处理100000人 处分1人"))


@pytest.mark.parametrize(
    ("field", "value", "limit", "answer"),
    [
        ("职务", "科长" * 60, 50, "科长"),
        ("单位", "法制科" * 50, 100, "法制科"),
        ("电话", "1" * 200, 40, "13909551234"),
    ],
)
def test_over_long_registration_fields_are_refused_in_chinese_and_asked_again(
    say: Say, plan_loaded: Database, field: str, value: str, limit: int, answer: str
) -> None:
    fields = {"单位": "法制科", "姓名": "陆和建", "职务": "科长", "电话": "13909551234", "邮箱": "lu@example.cn"}
    reply = text(say("LuHeJian", "登记\n" + "\n".join(f"{k}：{value if k == field else v}" for k, v in fields.items())))
    assert f"「{field}」太长了（{len(value)}字），请控制在{limit}字以内。" in reply
    assert "还差 1 项" in reply  # nothing half-registered: the dialog asks for that field again
    assert "登记成功" in text(say("LuHeJian", answer))


def test_an_over_long_email_is_left_out_and_said_so(say: Say, plan_loaded: Database) -> None:
    reply = text(say("LuHeJian", "登记\n单位：法制科\n姓名：陆和建\n职务：科长\n电话：13909551234\n邮箱：" + "a" * 300))
    assert "「邮箱」太长了（300字），请控制在100字以内。" in reply and "登记成功" in reply
    with transaction(plan_loaded.sessions) as session:
        assert session.scalars(select(Contact.wechat_or_email).where(Contact.name == "陆和建")).one() is None


@pytest.mark.parametrize("due", ["9999年1月1日", "2099-12-31", "1999年9月10日"])
def test_a_deadline_decades_away_is_refused_and_asked_again(say: Say, plan_loaded: Database, due: str) -> None:
    from storage.models import Issue

    before = count(plan_loaded, Issue)
    reply = text(
        say(
            "MaQiang",
            "问题\n线索名称：执法证件未按期年检\n线索来源：专项检查\n整治重点：队伍建设\n"
            "线索内容：证件过期\n整改措施：补办\n整改目标：持证上岗\n责任人：张三\n"
            f"完成时限：{due}",
        )
    )
    assert "不在 2000 年至 2030 年之间" in reply and "完成时限" in reply
    assert count(plan_loaded, Issue) == before
    assert "已登记" in text(say("MaQiang", "9月10日前"))  # the dialog asked for it again
    assert count(plan_loaded, Issue) == before + 1


def test_an_unknown_unit_is_quoted_back_cut_short(say: Say) -> None:
    reply = text(say("YuJianKui", "汇总 " + "某某局" * 2000))
    assert "未找到单位「" + "某某局" * 10 + "…」" in reply and len(reply) < 200
