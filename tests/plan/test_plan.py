"""Plan loading (docs/plan-format.md): validation names file, line and field; loading is idempotent, non-destructive."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import func, select

from core.clock import ManualClock
from core.statuses import ContactStatus, TaskDeadlineKind
from plan.schema import PlanError, parse_plan, read_plan
from plan.sync import load_plan
from storage.db import transaction
from storage.models import Campaign, Contact, Deliverable, Issue, Phase, Task, Unit, WeeklyReport
from tests.conftest import FIXTURES, Database, SimChat

PLAN = (FIXTURES / "plan.yaml").read_text(encoding="utf-8")


def problems(text: str) -> list[str]:
    with pytest.raises(PlanError) as caught:
        parse_plan(text, "plan.yaml")
    return caught.value.render().splitlines()


def test_the_fixture_plan_resolves_chinese_dates() -> None:
    resolved = parse_plan(PLAN)
    assert resolved.phase_dates == [
        (None, date(2020, 6, 10)),
        (date(2020, 6, 1), date(2020, 9, 30)),
        (date(2020, 10, 1), date(2020, 10, 31)),
        (None, date(2020, 11, 20)),
    ]
    assert resolved.deliverable_dues == [date(2020, 6, 10), date(2020, 9, 30), date(2020, 10, 20)]
    assert resolved.target_by == date(2020, 9, 10)
    assert resolved.plan.weekly_report.weekday == 4


def test_a_bad_date_is_named_with_file_line_and_field() -> None:
    text = PLAN.replace("end: 9月下旬}", "end: 9月32日}")
    assert problems(text) == ["plan.yaml:13: phases[1].end: 无法识别的日期「9月32日」"]


def test_missing_and_unknown_fields() -> None:
    text = PLAN.replace("  start: 2020-06-04\n", "").replace(
        "timezone: Asia/Shanghai", "timezone: Asia/Shanghai\n  colour: red"
    )
    found = problems(text)
    assert "plan.yaml:2: campaign.start: 缺少必填字段" in found  # the line of the `campaign:` key
    assert "plan.yaml:6: campaign.colour: 未知字段（请检查拼写）" in found


def test_several_problems_are_all_reported() -> None:
    found = problems(PLAN.replace('due: "12:00"', 'due: "25:00"').replace("rate: 0.9", "rate: 9"))
    assert found == [
        'plan.yaml:8: campaign.target.rate: 整改率目标应在 0 到 1 之间（如 0.9 或 "90%"）',
        "plan.yaml:20: weekly_report.due: 时间应写成 \"09:00\" 的形式，而不是 '25:00'",
    ]
    found = problems(
        PLAN.replace("- {name: 耕地保护科}", "- {name: 办公室}").replace(
            "units: [法制科, 支队]", "units: [法制科, 宣传科]"
        )
    )
    assert found == [
        "plan.yaml:18: deliverables[1].units: 单位「宣传科」不在 units 中",
        "plan.yaml:26: units[3].name: 名称「办公室」重复",
    ]


def test_yaml_syntax_error_has_a_line() -> None:
    found = problems(PLAN.replace("phases:\n", "phases:\n  - {name: 坏的, end: [\n"))
    assert found[0].startswith("plan.yaml:") and "YAML 格式错误" in found[0]


def test_an_unreadable_file_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "plan.yaml"
    path.write_bytes(b"\xff\xfe\x00bad")
    with pytest.raises(PlanError, match="无法读取文件"):
        read_plan(path)


def _counts(db: Database) -> dict[str, int]:
    with transaction(db.sessions) as session:
        return {
            model.__tablename__: int(session.scalar(select(func.count()).select_from(model)) or 0)
            for model in (Campaign, Phase, Deliverable, Unit, Contact, Issue, WeeklyReport, Task)
        }


def test_loading_twice_changes_nothing(plan_loaded: Database, clock: ManualClock) -> None:
    before = _counts(plan_loaded)
    with transaction(plan_loaded.sessions) as session:
        result = load_plan(session, parse_plan(PLAN), now=clock.now())
    assert not result.created and result.changes == []
    assert _counts(plan_loaded) == before


def test_a_changed_plan_updates_without_losing_issues_or_reports(
    chat: SimChat, plan_loaded: Database, clock: ManualClock
) -> None:
    chat.send(
        "MaQiang",
        "问题\n线索名称：辅助人员单独执法\n线索来源：专项检查\n整治重点：队伍建设\n线索内容：x\n"
        "整改措施：y\n整改目标：z\n责任人：马强\n完成时限：9月10日",
    )
    chat.send("MaQiang", "周报 本周工作")
    changed = (
        PLAN.replace("aliases: [支队]", "aliases: [支队, 监察支队]")
        .replace("  - {name: 耕地保护科}\n", "  - {name: 国土空间规划科}\n")
        .replace("{name: 抽查检查阶段, end: 11月中旬}", "{name: 抽查检查阶段, end: 11月下旬}")
    )
    with transaction(plan_loaded.sessions) as session:
        result = load_plan(session, parse_plan(changed), now=clock.now())
    assert "unit+国土空间规划科" in result.changes and "unit-耕地保护科" in result.changes
    with transaction(plan_loaded.sessions) as session:
        assert session.scalar(select(func.count()).select_from(Issue)) == 1
        assert session.scalar(select(func.count()).select_from(WeeklyReport)) == 1
        unit = session.scalars(select(Unit).where(Unit.name == "执法监察支队")).one()
        assert unit.aliases == ["支队", "监察支队"]
        assert session.scalars(select(Phase.end).where(Phase.name == "抽查检查阶段")).one() == date(2020, 11, 30)
    # a unit with history is retired, not deleted
    zhidui = (
        '  - {name: 执法监察支队, aliases: [支队, 监察支队], contacts: [{name: 马强, phone: "13909550003", '
        "wecom_userid: MaQiang}]}\n"
    )
    dropped = changed.replace(zhidui, "").replace("units: [法制科, 支队]", "units: [法制科]")
    with transaction(plan_loaded.sessions) as session:
        result = load_plan(session, parse_plan(dropped), now=clock.now())
        assert any("执法监察支队" in w for w in result.warnings)
    with transaction(plan_loaded.sessions) as session:
        assert session.scalars(select(Unit.retired).where(Unit.name == "执法监察支队")).one() is True
        assert session.scalar(select(func.count()).select_from(Issue)) == 1


def test_plan_contacts_with_a_userid_are_active_and_phones_are_prelisted(plan_loaded: Database) -> None:
    with transaction(plan_loaded.sessions) as session:
        statuses = {name: status for name, status in session.execute(select(Contact.name, Contact.status))}
    assert statuses == {"王芳": ContactStatus.ACTIVE, "马强": ContactStatus.ACTIVE, "陆和建": ContactStatus.PRELISTED}


def test_tasks_are_loaded_with_their_deadline_kinds(db: Database, clock: ManualClock) -> None:
    text = PLAN.replace(
        "units:\n",
        "units:\n  - {name: 司法局}\n  - {name: 乡镇甲, groups: [各乡镇〔街道〕]}\n"
        "  - {name: 乡镇乙, groups: [各乡镇〔街道〕]}\n",
        1,
    ) + (
        "tasks:\n"
        "  - {number: 3, text: 全员轮训, responsible: [各乡镇〔街道〕], deadline: 2024年6月15日前并长期坚持}\n"
        "  - {number: 6, text: 持证上岗, lead: [司法局], partners: [各乡镇〔街道〕, 不存在的局], deadline: 长期坚持}\n"
        "  - {number: 11, text: 裁量基准, responsible: [乡镇甲], deadline: 2020年11月底前}\n"
        "  - {number: 15, text: 年度报告, lead: [司法局], deadline: 每年2月底前}\n"
    )
    with transaction(db.sessions) as session:
        load_plan(session, parse_plan(text), now=clock.now())
    with transaction(db.sessions) as session:
        tasks = {t.number: t for t in session.scalars(select(Task))}
        assert tasks[3].deadline_kind is TaskDeadlineKind.DATE_THEN_ONGOING and tasks[3].due == date(2024, 6, 15)
        assert len(tasks[3].units) == 2
        assert tasks[6].deadline_kind is TaskDeadlineKind.ONGOING and tasks[6].unmatched_units == ["不存在的局"]
        assert tasks[11].due == date(2020, 11, 30)
        assert (tasks[15].deadline_kind, tasks[15].yearly_month, tasks[15].yearly_day) == (
            TaskDeadlineKind.YEARLY,
            2,
            None,
        )  # no day: the month's last day, whatever the year


CONTACT_FORM = PLAN.replace(
    "{name: 专项整治联系人, due: 6月10日}", "{name: 专项整治联系人, due: 6月10日, kind: contacts}"
)


def test_only_one_deliverable_is_the_contact_form_and_the_kind_is_checked() -> None:
    twice = CONTACT_FORM.replace(
        "{name: 行政裁量基准, due: 2020年9月30日,", "{name: 行政裁量基准, due: 2020年9月30日, kind: contacts,"
    )
    assert problems(twice) == ["plan.yaml:18: deliverables[1].kind: 只能有一个报送事项是联系人表（kind: contacts）"]
    found = problems(CONTACT_FORM.replace("kind: contacts", "kind: contact"))
    assert len(found) == 1 and found[0].startswith("plan.yaml:17: deliverables[0].kind: ")


def test_naming_the_contact_form_submits_it_for_units_whose_liaison_is_active(
    plan_loaded: Database, clock: ManualClock
) -> None:
    with transaction(plan_loaded.sessions) as session:
        result = load_plan(session, parse_plan(CONTACT_FORM), now=clock.now())
    # 王芳 (办公室) and 马强 (支队) are named with their user ids; 陆和建 (法制科) is only pre-listed.
    assert sorted(c for c in result.changes if c.startswith("submission+")) == [
        "submission+办公室",
        "submission+执法监察支队",
    ]
    with transaction(plan_loaded.sessions) as session:
        result = load_plan(session, parse_plan(CONTACT_FORM), now=clock.now())
    assert result.changes == []  # loading it again changes nothing


def test_a_plan_may_ask_for_one_receipt_reminder_hours_after_a_notice(
    plan_loaded: Database, clock: ManualClock
) -> None:
    text = PLAN.replace(
        "deadline_nudges_days: [7, 3, 1, 0]\n",
        "deadline_nudges_days: [7, 3, 1, 0]\nnotice_receipt_reminder_hours: 24\n",
    )
    with transaction(plan_loaded.sessions) as session:
        assert session.scalars(select(Campaign.notice_receipt_reminder_hours)).one() is None  # off by default
        result = load_plan(session, parse_plan(text), now=clock.now())
        assert "campaign.notice_receipt_reminder_hours" in result.changes
        assert session.scalars(select(Campaign.notice_receipt_reminder_hours)).one() == 24
    assert problems(text.replace("hours: 24", "hours: 0")) == [
        "plan.yaml:22: notice_receipt_reminder_hours: 通知回执提醒应在发出后 1 到 720 小时之间；不提醒请删去这一项"
    ]
