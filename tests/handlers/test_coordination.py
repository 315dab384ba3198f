"""汇总 / 逾期 / 未报送 / 图表 as a coordinator reads them, through the dispatcher every channel calls."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select, update

from core.dates import format_near
from handlers.dispatch import Dispatcher
from handlers.message import IncomingMessage, Reply
from storage.db import transaction
from storage.models import Campaign, Phase, WeeklyReport
from tests.conftest import Database, at
from tests.factories import add_issue, build_ledger


@pytest.fixture
def ask(plan_loaded: Database):  # type: ignore[no-untyped-def]
    build_ledger(plan_loaded)
    dispatcher = Dispatcher(plan_loaded.sessions)

    def send(text: str, user: str = "YuJianKui") -> Reply:
        return dispatcher.handle(IncomingMessage("wecom", user, text, at("2020-07-15 10:00")))

    return send


def test_summary_shows_the_lights_with_their_reasons(ask) -> None:  # type: ignore[no-untyped-def]
    reply = ask("汇总")
    text = reply.texts[0]
    assert "问题：共 7 个，未整改 2，整改中 1，已整改 4，逾期 1" in text
    assert "整改率：57.1%（4/7），目标 90%（9月10日前，还剩 57 天），按进度今日应达 37.7%" in text
    assert "联络员登记：2/4 个单位（待审核登记 1 个" in text
    assert "本周周报（第29周）：2/4 个单位已报送；未报送：执法监察支队、耕地保护科" in text
    assert "单位状态：🔴 红灯 2 个，🟡 黄灯 1 个，🟢 绿灯 1 个" in text
    assert "· 法制科：逾期问题1个" in text
    assert "· 耕地保护科：未报送专项整治联系人" in text
    assert "· 执法监察支队：1个问题3天内到期" in text
    assert "🟢 绿灯：办公室" in text


def test_summary_has_a_markdown_twin_and_the_chart(ask) -> None:  # type: ignore[no-untyped-def]
    reply = ask("汇总")
    assert reply.markdown is not None
    assert reply.markdown.startswith("### 【行政执法不作为慢作为乱作为专项整治】汇总")
    assert "**问题**：共 7 个，未整改 2，整改中 1，已整改 4，逾期 1  " in reply.markdown
    assert "- 法制科：逾期问题1个" in reply.markdown
    (chart,) = reply.images
    assert chart.mime == "image/png" and chart.data.startswith(b"\x89PNG")


def test_unit_summary_states_the_units_light(ask) -> None:  # type: ignore[no-untyped-def]
    text = ask("汇总 支队").texts[0]
    assert "【执法监察支队】" in text and "状态：🟡 黄灯（1个问题3天内到期）" in text
    assert "· #5 辅助人员单独执法｜整改中 50%｜时限 7月17日（还剩2天）" in text
    assert ask("汇总 法制科").images == ()  # one unit's chart would be a single bar


def test_a_late_report_reads_as_late_in_the_units_summary(ask, plan_loaded: Database) -> None:  # type: ignore[no-untyped-def]
    assert "本周周报（第29周）：已报送" in ask("汇总 法制科").texts[0]
    with transaction(plan_loaded.sessions) as session:
        session.execute(update(WeeklyReport).where(WeeklyReport.iso_week == 29).values(late=True))
    assert "本周周报（第29周）：迟报" in ask("汇总 法制科").texts[0]


def test_overdue_and_missing_in_markdown(ask) -> None:  # type: ignore[no-untyped-def]
    overdue = ask("逾期")
    assert "【法制科】1 个：\n· #2 案卷不规范｜未整改｜时限 7月10日（已逾期5天）" in overdue.texts[0]
    assert "**【法制科】1 个**  \n- #2 案卷不规范" in (overdue.markdown or "")
    missing = ask("未报送")
    assert missing.texts[0].startswith("本周周报（第29周）未报送 2 个单位：执法监察支队、耕地保护科")
    assert "- 专项整治联系人（6月10日，已过 35 天）：未报送 耕地保护科" in (missing.markdown or "")


def test_overdue_lists_the_first_60_and_counts_the_rest(ask, plan_loaded: Database) -> None:  # type: ignore[no-untyped-def]
    with transaction(plan_loaded.sessions) as session:
        for day in range(70):
            add_issue(session, "执法监察支队", f"超期未归档{day}", date(2020, 5, 1) + timedelta(days=day % 60))
        for day in range(3):
            add_issue(session, "办公室", f"公示不全{day}", date(2020, 6, 1))
    text = ask("逾期").texts[0]
    assert text.startswith("逾期未整改问题 74 个（截至2020年7月15日）")
    assert "【办公室】3 个" in text and "【执法监察支队】70 个" in text  # whole counts, though 57 of 70 are shown
    assert text.count("\n· #") == 60
    assert text.endswith("……其余 14 个逾期问题请在督办网页的问题台账中查看。")


def test_chart_command_is_for_coordinators(ask) -> None:  # type: ignore[no-untyped-def]
    reply = ask("图表")
    assert "各单位整改率与目标对比" in reply.texts[0] and len(reply.images) == 1
    assert "仅限牵头部门" in ask("图表", user="MaQiang").texts[0]


def test_a_retried_summary_returns_the_same_text(plan_loaded: Database) -> None:
    dispatcher = Dispatcher(plan_loaded.sessions)
    message = IncomingMessage("wecom", "YuJianKui", "汇总", at("2020-07-15 10:00"), message_id="m-9")
    first, again = dispatcher.handle(message), dispatcher.handle(message)
    assert again.duplicate and again.texts == first.texts


def test_dates_in_another_year_carry_the_year(plan_loaded: Database) -> None:
    # A campaign that runs over New Year: in December, a phase ending in January must say which January.
    with transaction(plan_loaded.sessions) as session:
        phase = session.scalars(select(Phase).where(Phase.name == "抽查检查阶段")).one()
        phase.start, phase.end = date(2020, 12, 1), date(2021, 1, 15)
        session.scalars(select(Campaign)).one().end = date(2021, 1, 31)
    reply = Dispatcher(plan_loaded.sessions).handle(
        IncomingMessage("wecom", "YuJianKui", "汇总", at("2020-12-20 10:00"))
    )
    assert "抽查检查阶段（至 2021年1月15日，还剩 26 天）" in reply.texts[0]
    assert format_near(date(2020, 9, 10), date(2020, 7, 15)) == "9月10日"
