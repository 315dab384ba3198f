"""The JSON API and the dashboard pages show the hand-built ledger's numbers (tests/factories.py)."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy import delete

from bot.app import create_app
from core.clock import ManualClock
from storage.db import transaction
from storage.models import WeeklyReport
from tests.conftest import Database, make_settings
from tests.factories import build_ledger, set_password


@pytest.fixture
def signed_in(plan_loaded: Database, clock: ManualClock) -> Iterator[TestClient]:
    build_ledger(plan_loaded)
    set_password(plan_loaded)
    with TestClient(create_app(make_settings(plan_loaded, secret_key="k"), clock=clock)) as client:
        token = re.search(r'name="csrf" value="([^"]+)"', client.get("/dashboard/login").text).group(1)  # type: ignore[union-attr]
        client.post("/dashboard/login", data={"login": "yu", "password": "correct horse", "csrf": token})
        yield client


def test_summary(signed_in: TestClient) -> None:
    summary = signed_in.get("/api/summary").json()
    assert summary["totals"] == {
        "logged": 7,
        "open": 2,
        "in_progress": 1,
        "rectified": 4,
        "overdue": 1,
        "due_soon": 1,
        "rate": round(4 / 7, 4),
    }
    assert summary["phase"] == "自查整改阶段" and summary["week"] == "2020-W29"
    assert summary["lights"] == {"red": 2, "yellow": 1, "green": 1}
    assert summary["weekly_missing"] == ["执法监察支队", "耕地保护科"] and summary["pending_registrations"] == 1


def test_units_with_lights_and_reasons(signed_in: TestClient) -> None:
    units = {u["name"]: u for u in signed_in.get("/api/units").json()}
    assert units["法制科"]["light"] == "red" and units["法制科"]["reasons"][0] == "逾期问题1个"
    assert units["执法监察支队"]["liaisons"] == ["马强"] and units["执法监察支队"]["counts"]["due_soon"] == 1
    assert units["办公室"]["light"] == "green"


def test_issue_filters(signed_in: TestClient) -> None:
    units = {u["name"]: u["id"] for u in signed_in.get("/api/units").json()}
    assert signed_in.get("/api/issues").json()["total"] == 7
    overdue = signed_in.get("/api/issues", params={"overdue": "true"}).json()
    assert [i["number"] for i in overdue["items"]] == [2] and overdue["items"][0]["overdue"]
    mine = signed_in.get("/api/issues", params={"unit": units["法制科"], "status": "rectified"}).json()
    assert sorted(i["number"] for i in mine["items"]) == [3, 4]
    by_area = signed_in.get("/api/issues", params={"focus_area": "队伍建设", "source": "信访举报"}).json()
    assert [i["title"] for i in by_area["items"]] == ["辅助人员单独执法"]
    assert signed_in.get("/api/issues", params={"status": "maybe"}).status_code == 422


def test_issue_with_its_progress_history(signed_in: TestClient) -> None:
    detail = signed_in.get("/api/issues/5").json()
    assert detail["unit"] == "执法监察支队" and detail["percent"] == 50
    assert [(p["status"], p["percent"], p["note"]) for p in detail["progress"]] == [("in_progress", 50, "按计划推进")]
    assert signed_in.get("/api/issues/99").status_code == 404


def test_the_api_is_in_the_openapi_document(signed_in: TestClient) -> None:
    paths = signed_in.get("/openapi.json").json()["paths"]
    assert {"/api/summary", "/api/units", "/api/issues", "/api/issues/{number}"} <= set(paths)


def test_pages_show_the_ledger(signed_in: TestClient) -> None:
    overview = signed_in.get("/dashboard").text
    assert "57.1%" in overview and "阶段时间轴" in overview and "今天" in overview
    assert "法制科</a>：逾期问题1个" in overview
    ledger = signed_in.get("/dashboard/issues", params={"unit": "", "status": "open", "overdue": "true"}).text
    assert "共 1 个" in ledger and "#2" in ledger and "逾期5天" in ledger
    weekly = signed_in.get("/dashboard/weekly").text
    assert "第28周" in weekly and "第29周" in weekly
    issue = signed_in.get("/dashboard/issues/5").text
    assert "辅助人员单独执法" in issue and "按计划推进" in issue


def test_exports_download_from_the_dashboard(signed_in: TestClient) -> None:
    response = signed_in.get("/dashboard/export/issues.xlsx", params={"unit": ""})
    assert response.status_code == 200
    assert "attachment" in response.headers["content-disposition"]
    sheet = load_workbook(io.BytesIO(response.content)).worksheets[0]
    assert sum(1 for row in sheet.iter_rows(values_only=True) if isinstance(row[0], int)) == 7
    assert signed_in.get("/dashboard/export/secret.xlsx").status_code == 404
    assert signed_in.get("/dashboard/export/stats.xlsx", params={"unit": "9999"}).status_code == 404


def reminder_lines(page: str) -> dict[str, list[str]]:
    """The 提醒 page as a reader scans it: each day's heading → its lines, tags dropped."""
    days: dict[str, list[str]] = {}
    for section in page.split('data-testid="reminder-day"')[1:]:
        label = re.search(r"<h2>([^<]+?)\s*<small", section).group(1)  # type: ignore[union-attr]
        rows = section.split('<tr data-testid="reminder">')[1:]
        days[label] = [" ".join(re.sub(r"<[^>]+>", " ", row[: row.index("</tr>")]).split()) for row in rows]
    return days


def test_upcoming_reminders_come_from_the_engine_rules(signed_in: TestClient) -> None:
    # Wednesday 2020-07-15: Friday's weekly-report reminders go to the liaisons of units that have not
    # reported (耕地保护科 has none yet: its only registration is pending).
    days = reminder_lines(signed_in.get("/dashboard/reminders", params={"days": 3}).text)
    assert list(days) == ["7月16日 周四", "7月17日 周五"]  # grouped by day; nothing on Wednesday after 10:00
    friday = days["7月17日 周五"]
    weekly = [line for line in friday if line.split()[1] == "周报提醒"]
    assert [line.split()[:3] for line in weekly] == [
        ["09:00", "周报提醒", "马强（执法监察支队）"],
        ["11:00", "周报提醒", "马强（执法监察支队）"],
    ]
    assert any(line.startswith("12:00 周报未报送汇总") for line in friday)
    assert days["7月16日 周四"][0].startswith("09:00 逾期问题日报 俞建奎（协调人）")
    tomorrow = reminder_lines(signed_in.get("/dashboard/reminders", params={"days": 1}).text)
    assert list(tomorrow) == ["7月16日 周四"] and "周报提醒" not in str(tomorrow)


def test_the_same_message_to_many_people_is_one_line(signed_in: TestClient, plan_loaded: Database) -> None:
    with transaction(plan_loaded.sessions) as session:
        session.execute(delete(WeeklyReport).where(WeeklyReport.iso_week == 29))  # 办公室 owes this week's too
    friday = reminder_lines(signed_in.get("/dashboard/reminders", params={"days": 3}).text)["7月17日 周五"]
    weekly = [line for line in friday if line.split()[1] == "周报提醒"]
    assert len(weekly) == 2  # 09:00 and 11:00, each one line for both liaisons
    assert weekly[0].startswith("09:00 周报提醒 2 人 ：王芳（办公室）、马强（执法监察支队） 【周报提醒】办公室第29周")
    assert "另有 1 条内容不同（各单位名称不同），展开全部 王芳（办公室） ： 【周报提醒】办公室" in weekly[0]
