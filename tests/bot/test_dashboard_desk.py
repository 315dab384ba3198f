"""The coordinator's desk in the dashboard: a page per unit, the weekly matrix's cells linking to the text of
each report, and 迟报 shown wherever a late report appears (tests/factories.py's ledger)."""

from __future__ import annotations

import io
import re
from pathlib import Path
from urllib.parse import quote

from docx import Document
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update

from storage.db import transaction
from storage.models import Issue, WeeklyReport
from tests.bot.test_dashboard_api import signed_in  # noqa: F401  (the fixture)
from tests.conftest import Database
from tests.exports.test_adopt import seed_issues
from tests.factories import unit_named


def words(html: str) -> str:
    """A page's text as a reader sees it: tags dropped, runs of white space as one space."""
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def _unit_id(db: Database, name: str) -> int:
    with transaction(db.sessions) as session:
        return unit_named(session, name).id


def test_each_reported_cell_of_the_matrix_links_to_the_reports_text(
    signed_in: TestClient,  # noqa: F811
    plan_loaded: Database,
) -> None:
    with transaction(plan_loaded.sessions) as session:
        session.execute(
            update(WeeklyReport)
            .where(WeeklyReport.iso_week == 28)
            .values(text="本周完成执法案卷评查3件，整改公示栏2处。")
        )
    office = _unit_id(plan_loaded, "办公室")
    matrix = signed_in.get("/dashboard/weekly").text
    assert '第28周<br><small class="span">7月6日–<wbr>7月10日</small>' in matrix  # dates beside the week number
    links = set(re.findall(r'href="(/dashboard/units/\d+/weekly/2020-W\d\d)"[^>]*>(.)</a>', matrix))
    assert (f"/dashboard/units/{office}/weekly/2020-W28", "迟") in links
    assert (f"/dashboard/units/{office}/weekly/2020-W29", "✓") in links
    assert len(links) == 4  # 法制科 and 办公室, weeks 28 and 29; missing cells have nothing to link to

    page = signed_in.get(f"/dashboard/units/{office}/weekly/2020-W28").text
    assert "本周完成执法案卷评查3件，整改公示栏2处。" in page
    assert "迟报" in page and "7月6日–7月10日" in page
    assert signed_in.get(f"/dashboard/units/{office}/weekly/2020-W27").status_code == 404
    assert signed_in.get(f"/dashboard/units/{office}/weekly/last-week").status_code == 404
    assert signed_in.get("/dashboard/units/99999/weekly/2020-W28").status_code == 404


def test_a_units_page_has_its_reports_issues_and_deliverables(
    signed_in: TestClient,  # noqa: F811
    plan_loaded: Database,
) -> None:
    law = _unit_id(plan_loaded, "法制科")
    units = signed_in.get("/dashboard/units").text
    assert f'href="/dashboard/units/{law}">法制科</a>' in units
    page = signed_in.get(f"/dashboard/units/{law}").text
    weekly = page[page.index('data-testid="unit-weekly"') : page.index('data-testid="unit-issues"')]
    assert weekly.index("第29周") < weekly.index("第28周") < weekly.index("第23周")  # newest first, every week
    assert weekly.count(">已报送<") == 2 and weekly.count(">未报送<") == 5  # weeks 23–27 passed without one
    assert f'href="/dashboard/units/{law}/weekly/2020-W29">全文</a>' in weekly
    issues = page[page.index('data-testid="unit-issues"') : page.index('data-testid="unit-deliverables"')]
    assert [int(n) for n in re.findall(r">#(\d+)</a>", issues)] == [2, 1, 4, 3]  # open ones first, by due date
    assert "逾期5天" in issues
    deliverables = words(page[page.index('data-testid="unit-deliverables"') :])
    assert "专项整治联系人 （2020年6月10日前）： 已报送（2020年6月9日）" in deliverables
    assert "行政裁量基准 （2020年9月30日前）： 未报送" in deliverables
    assert "专项整治工作总结及统计表 （2020年10月20日前）： 未报送" in deliverables
    assert signed_in.get("/dashboard/units/99999").status_code == 404


def test_a_late_report_reads_as_late_on_every_page(signed_in: TestClient, plan_loaded: Database) -> None:  # noqa: F811
    office = _unit_id(plan_loaded, "办公室")
    with transaction(plan_loaded.sessions) as session:
        session.execute(
            update(WeeklyReport).where(WeeklyReport.iso_week == 29, WeeklyReport.unit_id == office).values(late=True)
        )
    units = signed_in.get("/dashboard/units").text
    row = units[units.index(f'href="/dashboard/units/{office}"') :]
    assert row[: row.index("</tr>")].count(">迟报<") == 1
    page = signed_in.get(f"/dashboard/units/{office}").text
    assert 'data-testid="unit-weekly-state">迟报<' in page
    assert signed_in.get("/api/units").json()[0]["weekly_late"] is True


def test_the_weekly_bulletin_downloads_from_the_dashboard(signed_in: TestClient) -> None:  # noqa: F811
    exports = signed_in.get("/dashboard/exports").text
    assert '<option value="2020-W29">第29周（7月13日–7月17日）</option>' in exports
    assert 'action="/dashboard/export/bulletin.docx"' in exports
    assert 'href="/dashboard/export/bulletin.docx"' in signed_in.get("/dashboard/weekly").text
    response = signed_in.get("/dashboard/export/bulletin.docx")  # this week's
    assert response.status_code == 200
    assert "filename*=utf-8''" in response.headers["content-disposition"]
    assert quote("工作简报_第7期_") in response.headers["content-disposition"]
    document = Document(io.BytesIO(response.content))
    assert [p.text for p in document.paragraphs[:2]] == ["行政执法不作为慢作为乱作为专项整治工作简报", "第7期"]
    past = Document(io.BytesIO(signed_in.get("/dashboard/export/bulletin.docx", params={"week": "2020-W28"}).content))
    assert past.paragraphs[1].text == "第6期"
    refused = signed_in.get("/dashboard/export/bulletin.docx", params={"week": "2020-W31"})
    assert refused.status_code == 400 and "还没有到" in refused.text


def csrf_of(page: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]


def test_a_table_is_imported_after_a_dry_run_and_a_confirmation(
    signed_in: TestClient,  # noqa: F811
    plan_loaded: Database,
    tmp_path: Path,
) -> None:
    page = signed_in.get("/dashboard/import").text
    path = seed_issues(tmp_path / "附件2.xlsx")
    preview = signed_in.post(
        "/dashboard/import/preview",
        data={"csrf": csrf_of(page), "kind": "issues"},
        files={"table": ("附件2.xlsx", path.read_bytes())},
    )
    assert preview.status_code == 200
    text = words(preview.text)
    assert "合计：新建 2，已存在 0，跳过 1，拒绝 1。" in text
    assert "法制科 第8行 拒绝 法制科 公示不全 完成时限「下个月」无法识别" in text
    assert "确认导入 2 个问题" in text
    with transaction(plan_loaded.sessions) as session:
        assert session.scalar(select(func.count()).select_from(Issue)) == 7  # the dry run wrote nothing

    confirm = dict(
        re.findall(
            r'<input type="hidden" name="(\w+)" value="([^"]*)"',
            preview.text[preview.text.index('data-testid="import-confirm"') :],
        )
    )
    done = signed_in.post("/dashboard/import/apply", data=confirm)
    assert "已从「附件2.xlsx」导入 2 个问题" in words(done.text)
    again = signed_in.post("/dashboard/import/apply", data=confirm)
    assert "「附件2.xlsx」中没有需要写入的内容（新建 0，已存在 2，跳过 1，拒绝 1）" in words(again.text)
    with transaction(plan_loaded.sessions) as session:
        assert session.scalar(select(func.count()).select_from(Issue)) == 9

    broken = signed_in.post(
        "/dashboard/import/preview",
        data={"csrf": csrf_of(page), "kind": "contacts"},
        files={"table": ("附件1.xlsx", b"not a workbook")},
    )
    assert broken.status_code == 400 and "无法读取该文件" in broken.text
    forged = signed_in.post("/dashboard/import/apply", data={**confirm, "csrf": "forged"})
    assert forged.status_code in (400, 403)
