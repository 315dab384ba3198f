"""The imported plan as YAML: every value cited, TODOs that block loading until a person fills them, and a
round trip import-text → complete the TODOs → plan load on both databases."""

from __future__ import annotations

import re
from datetime import date, datetime

import pytest
import yaml
from sqlalchemy import select

from core.statuses import TaskDeadlineKind, TaskRole
from notice import import_notice
from notice.writer import render_plan
from plan.schema import PlanError, parse_plan
from plan.sync import load_plan
from storage.db import transaction
from storage.models import Campaign, Deliverable, DeliverableKind, Phase, Task
from tests.conftest import SHANGHAI, Database
from tests.notice.test_seeds import seed_text

NOW = datetime(2020, 7, 15, 10, tzinfo=SHANGHAI)


def rendered(number: str, year: int | None = None, *, uncited: bool = False) -> str:
    """The seed's plan; `uncited` drops the years of the 文号 it cites, leaving a notice with no year at all."""
    text = seed_text(number).replace("〔2020〕", "") if uncited else seed_text(number)
    return render_plan(import_notice(text, year=year), source=f"{number}.txt")


def fill(text: str, **lines: str) -> str:
    """Replace the line `key:  # TODO …` (first match) with `key: value`, as a person would."""
    for key, value in lines.items():
        text, count = re.subn(
            rf"^(\s*){key}:  # TODO.*$", lambda m, v=value, k=key: f"{m[1]}{k}: {v}", text, count=1, flags=re.MULTILINE
        )
        assert count == 1, key
    return text


UNITS_001 = '\n  - {name: 办公室}\n  - {name: 法制科, contacts: [{name: 陆和建, phone: "13909551234"}]}'


@pytest.mark.parametrize(
    ("number", "form"),
    [("000", None), ("001", "专项整治工作联系人"), ("002", "专项整治联系人"), ("003", None), ("004", None)],
)
def test_the_contact_form_is_marked_as_the_one_registration_submits(number: str, form: str | None) -> None:
    plan = yaml.safe_load(rendered(number))
    assert [d["name"] for d in plan["deliverables"] or [] if d.get("kind") == "contacts"] == ([form] if form else [])


@pytest.mark.parametrize("number", ["000", "001", "002", "003", "004"])
def test_every_value_has_a_comment_saying_where_it_came_from(number: str) -> None:
    text = rendered(number)
    yaml.safe_load(text)  # well-formed even with TODOs left
    values = [line for line in text.splitlines() if re.match(r"^\s*(?:- |[a-z_]+: \S)", line)]
    assert values
    for line in values:
        assert re.search(r"  # (?:第\d+行|TODO|请补充|默认|通知|官方|同上|任务分工)", line), line


def test_a_year_taken_from_a_cited_document_is_flagged_for_checking() -> None:
    text = rendered("000")
    assert "    due: 2020-06-15  # 第81行「6月15日前」" in text
    assert "未写年份的日期按 2020 年计：第5行「宁自然资发〔2020〕111号」（取自所引文件的文号，请核对）" in text


def test_dates_are_resolved_with_the_notices_words_beside_them() -> None:
    text = rendered("001")
    assert "    end: 2020-06-10  # 第104行「6月10日前」" in text
    assert "    due: 2020-10-20  # 第108行「10月20日前」" in text
    assert "  start: 2020-06-01  # 第52行「2020年6月初」" in text
    assert "未写年份的日期按 2020 年计：第12行「卫法办发〔2020〕13号」" in text
    assert "units:  # TODO 通知未列出参加单位" in text and "#  - {name: 法制科}" in text


def test_a_plan_with_todos_left_is_refused_naming_the_line() -> None:
    text = rendered("001")
    with pytest.raises(PlanError) as refused:
        parse_plan(text, "001.yaml")
    line = text.splitlines().index(next(x for x in text.splitlines() if x.startswith("units:"))) + 1
    assert f"001.yaml:{line}: units: 还没有填写" in refused.value.render()


def test_year_less_dates_stay_in_words_until_a_person_sets_the_span(db: Database) -> None:
    text = rendered("000", uncited=True)
    assert "    due: 6月15日前  # 第81行「6月15日前」；通知未写年份" in text
    assert "  start:  # TODO 通知未写明开始日期" in text
    assert "陆和建同志任联络员" in text.split("未能放入方案的内容")[1]
    resolved = parse_plan(fill(text, start="2020-06-04", end="2020-11-30"), "000.yaml")
    assert sorted(resolved.deliverable_dues)[0] == date(2020, 6, 15)
    assert resolved.target_by == date(2020, 9, 10)
    with transaction(db.sessions) as session:
        load_plan(session, resolved, now=NOW)
    with transaction(db.sessions) as session:
        cases = session.scalars(select(Deliverable).where(Deliverable.name == "典型案例")).one()
        assert (cases.due, cases.recipient, cases.unit_names) == (date(2020, 9, 1), "区厅", None)
        plan_first = session.scalars(select(Deliverable).where(Deliverable.due == date(2020, 6, 15))).one()
        assert plan_first.unit_names == ["办公室", "执法监察支队", "法制科"]


def test_seed_001_round_trips_into_the_database(db: Database) -> None:
    text = rendered("001").replace("units:  # TODO", "units:" + UNITS_001 + "\n# TODO", 1)
    resolved = parse_plan(text, "001.yaml")
    with transaction(db.sessions) as session:
        result = load_plan(session, resolved, now=NOW)
        assert result.created and not result.warnings
    with transaction(db.sessions) as session:
        campaign = session.scalars(select(Campaign)).one()
        assert (campaign.name, campaign.start, campaign.end) == (
            "行政执法不作为慢作为乱作为专项整治",
            date(2020, 6, 1),
            date(2020, 11, 30),
        )
        phases = session.scalars(select(Phase).order_by(Phase.position)).all()
        assert [(p.name, p.end) for p in phases][1] == ("自查整改阶段", date(2020, 9, 30))
        dues = {d.due for d in session.scalars(select(Deliverable))}
        assert dues == {date(2020, 6, 10), date(2020, 9, 30), date(2020, 10, 20)}
        # 附件1 is the contact form: a liaison's 登记 in chat submits it, so nobody chases it by hand
        forms = session.scalars(select(Deliverable).where(Deliverable.kind == DeliverableKind.CONTACTS)).all()
        assert [(d.name, d.due) for d in forms] == [("专项整治工作联系人", date(2020, 6, 10))]
    with transaction(db.sessions) as session:  # loading the same import again changes nothing
        assert load_plan(session, parse_plan(text, "001.yaml"), now=NOW).changes == []


def test_seed_004_round_trips_with_its_collectives_expanded(db: Database) -> None:
    text = rendered("004")
    assert "请补充：以下集合名称要展开为具体单位" in text
    members = (
        "\n  - {name: 红寺堡镇, groups: [各乡镇〔街道〕]}"
        "\n  - {name: 农业农村局, groups: [各行政执法部门（单位）, 各行政主管部门（单位）, 各行业主管部门]}"
    )
    text = fill(text, start="2023-11-01", end="2025-12-31")
    text = text.replace("units:  # 通知中点名的单位", "units:" + members + "  # 通知中点名的单位", 1)
    with transaction(db.sessions) as session:
        result = load_plan(session, parse_plan(text, "004.yaml"), now=NOW)
        assert result.warnings == []
    with transaction(db.sessions) as session:
        tasks = {t.number: t for t in session.scalars(select(Task))}
        assert len(tasks) == 43
        assert tasks[19].deadline_kind is TaskDeadlineKind.YEARLY and (
            tasks[19].yearly_month,
            tasks[19].yearly_day,
        ) == (2, None)
        assert tasks[3].deadline_kind is TaskDeadlineKind.DATE_THEN_ONGOING and tasks[3].due == date(2024, 6, 15)
        assert tasks[30].due == date(2024, 12, 31)  # 2024年底前并长期坚持
        names = {u.id: u.name for u in session.scalars(select(Campaign)).one().units}
        roles = {(names[tu.unit_id], tu.role) for tu in tasks[22].units}
        assert roles == {
            ("区委编办", TaskRole.LEAD),
            ("审批服务管理局", TaskRole.PARTNER),
            ("红寺堡镇", TaskRole.PARTNER),
        }
        assert {names[tu.unit_id] for tu in tasks[1].units} == {"红寺堡镇", "农业农村局"}
        assert all(not t.unmatched_units for t in tasks.values())
