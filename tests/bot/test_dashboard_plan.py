"""A coordinator turns an official notice into a plan on the dashboard: upload, check, then load."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from bot.app import create_app
from core.clock import ManualClock
from storage.db import transaction
from storage.models import AuditEntry, Campaign, Phase
from tests.conftest import FIXTURES, Database, make_settings
from tests.factories import set_password
from tests.notice.forms import to_docx, to_ofd, to_pdf
from tests.notice.test_seeds import seed_text

NEW_PLAN = (
    (FIXTURES / "plan.yaml").read_text(encoding="utf-8").replace("name: ", "name: 第二轮", 1)
)  # the fixture's campaign name comes first in the file


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)  # type: ignore[union-attr]


@pytest.fixture
def coordinator(plan_loaded: Database, clock: ManualClock) -> Iterator[TestClient]:
    set_password(plan_loaded)
    with TestClient(create_app(make_settings(plan_loaded, secret_key="k"), clock=clock)) as client:
        client.post(
            "/dashboard/login",
            data={"login": "yu", "password": "correct horse", "csrf": csrf_of(client.get("/dashboard/login").text)},
        )
        yield client


def campaigns(db: Database) -> list[str]:
    with transaction(db.sessions) as session:
        return list(session.scalars(select(Campaign.name).order_by(Campaign.id)))


def test_an_uploaded_notice_becomes_a_plan_to_check(coordinator: TestClient, plan_loaded: Database) -> None:
    csrf = csrf_of(coordinator.get("/dashboard/plan").text)
    page = coordinator.post(
        "/dashboard/plan/import",
        data={"csrf": csrf},
        files={"notice": ("通知.txt", seed_text("001").encode("gb18030"), "text/plain")},
    )
    assert page.status_code == 200
    assert "已识别：4 个阶段" in page.text
    plan = re.search(r'<textarea name="plan"[^>]*>(.*?)</textarea>', page.text, re.S).group(1)  # type: ignore[union-attr]
    assert "安排部署阶段" in plan and "2020-06-10" in plan and "# " in plan  # values with where they came from
    assert campaigns(plan_loaded) == [campaigns(plan_loaded)[0]]  # nothing loaded yet


@pytest.mark.parametrize(("name", "make"), [("通知.docx", to_docx), ("通知.pdf", to_pdf), ("通知.ofd", to_ofd)])
def test_a_notice_as_word_pdf_or_ofd_becomes_the_same_plan(coordinator: TestClient, name: str, make) -> None:  # type: ignore[no-untyped-def]
    csrf = csrf_of(coordinator.get("/dashboard/plan").text)
    page = coordinator.post(
        "/dashboard/plan/import",
        data={"csrf": csrf},
        files={"notice": (name, make(seed_text("002")), "application/octet-stream")},
    )
    assert page.status_code == 200, page.text
    assert "已识别：3 个阶段、4 个报送事项" in page.text and "只找到 3 个阶段" in page.text
    plan = re.search(r'<textarea name="plan"[^>]*>(.*?)</textarea>', page.text, re.S).group(1)  # type: ignore[union-attr]
    where = "第" + ("" if name.endswith(".docx") else "1页第")
    assert "    end: 2020-06-30" in plan and f"# {where}" in plan  # cited by page and paragraph


def test_check_changes_nothing_and_load_creates_the_campaign(coordinator: TestClient, plan_loaded: Database) -> None:
    before = campaigns(plan_loaded)
    csrf = csrf_of(coordinator.get("/dashboard/plan").text)
    checked = coordinator.post("/dashboard/plan/load", data={"csrf": csrf, "plan": NEW_PLAN, "action": "check"})
    assert checked.status_code == 200 and "校验通过" in checked.text and "尚未保存" in checked.text
    assert campaigns(plan_loaded) == before

    loaded = coordinator.post("/dashboard/plan/load", data={"csrf": csrf, "plan": NEW_PLAN, "action": "load"})
    assert "已创建" in loaded.text
    assert len(campaigns(plan_loaded)) == len(before) + 1 and campaigns(plan_loaded)[-1].startswith("第二轮")
    with transaction(plan_loaded.sessions) as session:
        new = session.scalars(select(Campaign).order_by(Campaign.id.desc())).first()
        assert session.scalar(select(func.count()).select_from(Phase).where(Phase.campaign_id == new.id)) == 4  # type: ignore[union-attr]
        actors = session.scalars(
            select(AuditEntry.actor).where(AuditEntry.action == "plan.load", AuditEntry.campaign_id == new.id)
        ).all()  # type: ignore[union-attr]
        assert actors == ["dashboard:yu"]


def test_a_plan_with_problems_names_them_and_writes_nothing(coordinator: TestClient, plan_loaded: Database) -> None:
    before = campaigns(plan_loaded)
    csrf = csrf_of(coordinator.get("/dashboard/plan").text)
    broken = NEW_PLAN.replace("end: 2020-11-30", "end: 十一月底", 1)
    page = coordinator.post("/dashboard/plan/load", data={"csrf": csrf, "plan": broken, "action": "load"})
    assert page.status_code == 400 and "方案:7: campaign.end: 日期「十一月底」无法识别" in page.text
    assert "十一月底" in page.text  # the coordinator's text is kept for fixing
    assert (
        coordinator.post(
            "/dashboard/plan/load", data={"csrf": csrf, "plan": "campaign: [", "action": "load"}
        ).status_code
        == 400
    )
    assert campaigns(plan_loaded) == before


def test_unreadable_uploads_and_forged_forms_are_refused(coordinator: TestClient, plan_loaded: Database) -> None:
    csrf = csrf_of(coordinator.get("/dashboard/plan").text)
    binary = coordinator.post(
        "/dashboard/plan/import",
        data={"csrf": csrf},
        files={"notice": ("通知.docx", b"PK\x03\x04\xff\xff\xfe", "application/octet-stream")},
    )
    assert binary.status_code == 400 and "文件已损坏" in binary.text
    old_word = coordinator.post(
        "/dashboard/plan/import",
        data={"csrf": csrf},
        files={"notice": ("通知.doc", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 512, "application/msword")},
    )
    assert old_word.status_code == 400 and "另存为」.docx 或 PDF" in old_word.text
    empty = coordinator.post("/dashboard/plan/import", data={"csrf": csrf, "text": "  "})
    assert empty.status_code == 400 and "请上传通知文件" in empty.text
    bad_year = coordinator.post("/dashboard/plan/import", data={"csrf": csrf, "text": "通知", "year": "20x4"})
    assert bad_year.status_code == 400 and "年份" in bad_year.text
    forged = coordinator.post("/dashboard/plan/load", data={"csrf": "elsewhere", "plan": NEW_PLAN, "action": "load"})
    assert forged.status_code == 403
    assert len(campaigns(plan_loaded)) == 1
