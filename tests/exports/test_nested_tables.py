"""A parent campaign's 附件2 and 附件3 with its children's issues in them, and importing such a 附件2 back."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from openpyxl import load_workbook

from exports.adopt import Outcome, plan_issues
from exports.nested import area_of
from exports.tables import export_issues, stats_table
from storage.db import transaction
from storage.repos import Campaigns, Units
from tests.conftest import Database
from tests.handlers.test_rollup import nest  # noqa: F401  (the fixture)
from tests.nested import CITY, NATURAL, Nest

TODAY = date(2020, 7, 15)


def test_a_childs_focus_area_counts_under_the_parents_one_it_names() -> None:
    city = ["行政执法制度建设", "行政执法职责履行", "执法过错追责", "执法队伍建设"]
    assert area_of(city, "制度建设") == "行政执法制度建设"
    assert area_of(city, "队伍建设方面") == "执法队伍建设"
    assert area_of(city, "行政执法职责履行方面") == "行政执法职责履行"
    assert area_of(city, "回应群众诉求") is None and area_of(city, "履行职责") is None and area_of(city, None) is None


def test_one_units_tables_hold_its_childs_issues_and_none_of_another(
    nest: Nest,  # noqa: F811
    db: Database,
    tmp_path: Path,
) -> None:
    with transaction(db.sessions) as session:
        city = Campaigns(session).current(CITY)
        assert city is not None
        unit = Units(session).find(city, "市自然资源局")
        farming = Units(session).find(city, "沙坡头区农业农村局")
        path = tmp_path / "unit.xlsx"
        assert export_issues(session, city, path, today=TODAY, unit=unit) == 3
        assert stats_table(session, city, unit).found == {"行政执法制度建设": 2}
        assert stats_table(session, city, farming).children_elsewhere == 1
    rows = list(load_workbook(path).active.iter_rows(values_only=True))
    remarks = [row[9] for row in rows if row[0] in (1, 2, 3)]
    assert [r.split("；")[-1] for r in remarks] == [
        "下级专项整治「自然资源」执法监察支队 #3",
        "下级专项整治「自然资源」法制科 #1",
        "下级专项整治「自然资源」法制科 #2",
    ]
    assert remarks[1].startswith("未整改，已逾期5天")


def test_importing_the_parents_table_back_leaves_the_childrens_issues_to_them(
    nest: Nest,  # noqa: F811
    db: Database,
    tmp_path: Path,
) -> None:
    path = tmp_path / "city.xlsx"
    with transaction(db.sessions) as session:
        city = Campaigns(session).current(CITY)
        assert city is not None
        assert export_issues(session, city, path, today=TODAY) == 4
        plan = plan_issues(session, city, path, today=TODAY)
    skipped = [line for line in plan.lines if line.outcome is Outcome.SKIP and line.what != "无"]
    assert len(skipped) == 4 and all("下级专项整治的问题" in line.reason for line in skipped)
    assert plan.count(Outcome.CREATE) == 0
    assert NATURAL  # the child's own ledger is where they are imported
