"""The dashboard in a real browser: Debian's headless Chromium driven by Playwright (never a downloaded
browser). A coordinator logs in, filters the ledger, approves a registration, reads a unit's weekly report from the
matrix and the unit's page, sees who has acknowledged a notice, and downloads an export and the weekly bulletin;
screenshots land in test-output/ for a person to look at."""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from docx import Document
from openpyxl import load_workbook
from playwright.sync_api import Browser, Page, expect, sync_playwright
from sqlalchemy import select

from bot.app import create_app
from handlers.clock import ManualClock
from handlers.dispatch import Dispatcher
from handlers.message import IncomingMessage
from storage.db import transaction
from storage.models import Contact, ContactStatus
from tests.conftest import Database, make_settings
from tests.factories import build_ledger, set_password

OUTPUT = Path(__file__).resolve().parents[2] / "test-output" / "dashboard"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


@pytest.fixture
def live_url(plan_loaded: Database, clock: ManualClock) -> Iterator[str]:
    """The app served by uvicorn on a free loopback port, in a thread, for the length of one test."""
    build_ledger(plan_loaded)
    set_password(plan_loaded)
    chat = Dispatcher(plan_loaded.sessions)  # a notice sent in chat, acknowledged by one of its two liaisons
    for number, (user, text) in enumerate((("YuJianKui", "通知 请各单位于7月24日前报送典型案例1至2个。"),
                                           ("MaQiang", "收到"))):
        chat.handle(IncomingMessage("wecom", user, text, clock.now(), message_id=f"browser-{number}"))
    app = create_app(make_settings(plan_loaded, secret_key="browser-test"), clock=clock)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:  # readiness of a real socket, not a sleep standing in for it
        assert time.monotonic() < deadline and thread.is_alive(), "the test server did not start"
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture
def browser() -> Iterator[Browser]:
    executable = shutil.which("chromium")
    assert executable, "Debian's chromium is needed (apt-get install chromium; .ci/run installs it)"
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


def shot(page: Page, name: str, backend: str) -> None:
    OUTPUT.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(OUTPUT / f"{name}-{backend}.png"), full_page=True)


def test_coordinator_works_through_the_dashboard(live_url: str, browser: Browser, plan_loaded: Database,
                                                 tmp_path: Path) -> None:
    context = browser.new_context(accept_downloads=True, locale="zh-CN", viewport={"width": 1280, "height": 900})
    page = context.new_page()
    outside: list[str] = []
    page.on("request", lambda request: outside.append(request.url)
            if not request.url.startswith((live_url, "data:")) else None)

    page.goto(f"{live_url}/dashboard")
    expect(page).to_have_url(f"{live_url}/dashboard/login?next=%2Fdashboard")
    page.get_by_label("登录名").fill("yu")
    page.get_by_label("密码").fill("wrong password")
    page.get_by_role("button", name="登录").click()
    expect(page.get_by_test_id("login-error")).to_contain_text("登录名或密码不正确")
    page.get_by_label("密码").fill("correct horse")
    page.get_by_role("button", name="登录").click()
    expect(page).to_have_url(f"{live_url}/dashboard")
    expect(page.get_by_test_id("rate")).to_have_text("57.1%")
    expect(page.get_by_test_id("timeline")).to_be_visible()
    shot(page, "overview", plan_loaded.backend)

    page.get_by_role("link", name="问题台账").click()
    expect(page.get_by_test_id("ledger-total")).to_have_text("共 7 个")
    filters = page.get_by_test_id("ledger-filters")
    filters.get_by_label("单位").select_option(label="法制科")
    filters.get_by_label("只看逾期").check()
    filters.get_by_role("button", name="筛选").click()
    expect(page.get_by_test_id("ledger-total")).to_have_text("共 1 个")
    expect(page.get_by_test_id("ledger")).to_contain_text("案卷不规范")
    shot(page, "ledger-filtered", plan_loaded.backend)
    page.get_by_role("link", name="#2").click()
    expect(page.get_by_test_id("issue-history")).to_contain_text("登记问题")

    page.get_by_role("link", name="登记审核").click()
    with transaction(plan_loaded.sessions) as session:
        pending = session.scalars(select(Contact).where(Contact.status == ContactStatus.PENDING)).one().id
    page.get_by_test_id(f"registration-{pending}").get_by_role("button", name="批准").click()
    expect(page.get_by_test_id("decision-done")).to_contain_text(f"已批准登记号 {pending}")
    with transaction(plan_loaded.sessions) as session:
        assert session.get(Contact, pending).status is ContactStatus.ACTIVE  # type: ignore[union-attr]

    page.get_by_role("link", name="周报").click()
    matrix = page.get_by_test_id("weekly-matrix")
    expect(matrix).to_contain_text("第29周")
    expect(matrix).to_contain_text("7月13日–7月17日")
    shot(page, "weekly", plan_loaded.backend)
    matrix.get_by_role("link", name="迟").click()  # 办公室's late report of week 28
    expect(page.get_by_test_id("report-text")).to_have_text("本周工作")
    expect(page.get_by_test_id("report-meta")).to_contain_text("迟报")
    page.get_by_role("link", name="← 办公室").click()
    expect(page.get_by_test_id("unit-weekly")).to_contain_text("第28周")
    expect(page.get_by_test_id("unit-issues")).to_contain_text("监督电话未公开")
    expect(page.get_by_test_id("unit-deliverables")).to_contain_text("专项整治联系人")
    unit_page = page.url
    shot(page, "unit", plan_loaded.backend)

    page.get_by_role("link", name="通知").click()
    notices = page.get_by_test_id("notices")
    expect(notices).to_contain_text("全部单位")
    expect(notices).to_contain_text("1/2 个单位已确认")
    notices.get_by_role("link", name="〔1〕").click()
    expect(page.get_by_test_id("notice-text")).to_have_text("请各单位于7月24日前报送典型案例1至2个。")
    receipts = page.get_by_test_id("notice-receipts")
    expect(receipts.get_by_role("row").filter(has_text="执法监察支队")).to_contain_text("已确认（马强 07-15 10:00）")
    expect(receipts.get_by_role("row").filter(has_text="办公室")).to_contain_text("未确认")
    expect(receipts.get_by_role("row").filter(has_text="法制科")).to_contain_text("未送达")
    shot(page, "notice", plan_loaded.backend)

    page.get_by_role("link", name="导出").click()
    with page.expect_download() as download_info:
        page.get_by_test_id("export-issues").get_by_role("button", name="下载").click()
    download = download_info.value
    assert download.suggested_filename.startswith("附件2_问题清单_")
    saved = tmp_path / "issues.xlsx"
    download.save_as(saved)
    sheet = load_workbook(saved).worksheets[0]
    assert sum(1 for row in sheet.iter_rows(values_only=True) if isinstance(row[0], int)) == 7
    with page.expect_download() as download_info:
        page.get_by_test_id("export-bulletin").get_by_role("button", name="生成简报").click()
    assert download_info.value.suggested_filename.startswith("工作简报_第7期_")
    bulletin = tmp_path / "bulletin.docx"
    download_info.value.save_as(bulletin)
    assert Document(str(bulletin)).paragraphs[1].text == "第7期"

    phone = browser.new_context(viewport={"width": 375, "height": 812}, device_scale_factor=2, is_mobile=True)
    phone.add_cookies(context.cookies())
    small = phone.new_page()
    small.goto(f"{live_url}/dashboard")
    expect(small.get_by_test_id("rate")).to_be_visible()
    width = small.evaluate("document.documentElement.scrollWidth")
    assert width <= 375, "the overview fits a phone screen without sideways scrolling"
    shot(small, "overview-phone", plan_loaded.backend)
    small.goto(unit_page)
    expect(small.get_by_test_id("unit-weekly")).to_be_visible()
    assert small.evaluate("document.documentElement.scrollWidth") <= 375, "a unit's page fits a phone too"
    shot(small, "unit-phone", plan_loaded.backend)
    assert outside == [], "the dashboard loads nothing from outside the app"
    phone.close()
    context.close()
