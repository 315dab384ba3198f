"""The dashboard in a real browser: Debian's headless Chromium driven by Playwright (never a downloaded
browser). A coordinator logs in, filters the ledger, approves a registration, reads a unit's weekly report from the
matrix and the unit's page, sees who has acknowledged a notice, and downloads an export and the weekly bulletin;
screenshots land in test-output/ for a person to look at."""

from __future__ import annotations

import shutil
import socket
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
from core.clock import ManualClock
from core.statuses import ContactStatus
from handlers.dispatch import Dispatcher
from handlers.message import IncomingMessage
from plan.schema import parse_plan
from plan.sync import load_plan
from storage.db import transaction
from storage.models import Contact
from storage.repos import People
from tests.bot.dingtalk.fake_dingtalk import AUTHORIZE as DINGTALK_AUTHORIZE
from tests.bot.dingtalk.fake_dingtalk import FakeDingTalk
from tests.bot.dingtalk.fake_dingtalk import LoopbackServer as DingTalkServer
from tests.bot.wecom.fake_qyapi import AUTHORIZE as WECOM_AUTHORIZE
from tests.bot.wecom.fake_qyapi import CORP_ID as WECOM_CORP_ID
from tests.bot.wecom.fake_qyapi import SECRET as WECOM_SECRET
from tests.bot.wecom.fake_qyapi import WEB_LOGIN as WECOM_WEB_LOGIN
from tests.bot.wecom.fake_qyapi import FakeQyapi
from tests.bot.wecom.fake_qyapi import LoopbackServer as WeComServer
from tests.conftest import Database, make_settings
from tests.factories import build_ledger, campaign_of, set_password, unit_named

OUTPUT = Path(__file__).resolve().parents[2] / "test-output" / "dashboard"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture
def live_url(plan_loaded: Database, clock: ManualClock) -> Iterator[str]:
    """The app served by uvicorn on a free loopback port, in a thread, for the length of one test."""
    build_ledger(plan_loaded)
    set_password(plan_loaded)
    chat = Dispatcher(plan_loaded.sessions)  # a notice sent in chat, acknowledged by one of its two liaisons
    for number, (user, text) in enumerate(
        (("YuJianKui", "通知 请各单位于7月24日前报送典型案例1至2个。"), ("MaQiang", "收到"))
    ):
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


def test_coordinator_works_through_the_dashboard(
    live_url: str, browser: Browser, plan_loaded: Database, tmp_path: Path
) -> None:
    context = browser.new_context(accept_downloads=True, locale="zh-CN", viewport={"width": 1280, "height": 900})
    page = context.new_page()
    outside: list[str] = []
    page.on(
        "request",
        lambda request: outside.append(request.url) if not request.url.startswith((live_url, "data:")) else None,
    )

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


PHONE = {"width": 390, "height": 844}  # the workbench's web view on a common phone


def phone_pages(db: Database) -> dict[str, str]:
    """Every dashboard page a coordinator opens (name → path), with data on it."""
    with transaction(db.sessions) as session:
        unit = unit_named(session, "法制科").id
    return {
        "overview": "/dashboard",
        "units": "/dashboard/units",
        "unit": f"/dashboard/units/{unit}",
        "report": f"/dashboard/units/{unit}/weekly/2020-W29",
        "ledger": "/dashboard/issues",
        "ledger-filtered": f"/dashboard/issues?unit={unit}&overdue=true",
        "issue": "/dashboard/issues/2",
        "weekly": "/dashboard/weekly",
        "registrations": "/dashboard/registrations",
        "reminders": "/dashboard/reminders?days=14",
        "plan": "/dashboard/plan",
        "exports": "/dashboard/exports",
        "import": "/dashboard/import",
        "not-found": "/dashboard/issues/999",
    }


def overflow(page: Page) -> int:
    """How far the page itself is wider than the screen (0: no sideways scrolling of the page)."""
    return int(page.evaluate("document.documentElement.scrollWidth - window.innerWidth"))


def test_every_page_fits_a_phone(live_url: str, browser: Browser, plan_loaded: Database) -> None:
    phone = browser.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True, locale="zh-CN")
    page = phone.new_page()
    page.goto(f"{live_url}/dashboard/login")
    assert overflow(page) == 0, "the login page fits"
    shot(page, "phone-login", plan_loaded.backend)
    page.get_by_label("登录名").fill("yu")
    page.get_by_label("密码").fill("correct horse")
    page.get_by_role("button", name="登录").click()
    expect(page).to_have_url(f"{live_url}/dashboard")

    for name, path in phone_pages(plan_loaded).items():
        page.goto(f"{live_url}{path}")
        shot(page, f"phone-{name}", plan_loaded.backend)
        assert overflow(page) == 0, f"{name} ({path}) scrolls sideways on a phone"
        logout = page.get_by_role("button", name="退出")
        if name != "not-found":
            box = logout.bounding_box()
            assert box is not None and box["x"] + box["width"] <= PHONE["width"], f"{name}: 退出 is off screen"
    page.goto(f"{live_url}/dashboard/weekly")
    matrix = page.locator(".table-wrap").first  # the matrix scrolls inside its frame
    assert matrix.evaluate("e => e.scrollWidth > e.clientWidth") or overflow(page) == 0
    phone.close()


@pytest.fixture
def platforms() -> Iterator[tuple[FakeQyapi, FakeDingTalk]]:
    """WeCom and DingTalk, faked on loopback, for sign-ins from a real browser."""
    qyapi, dingtalk = FakeQyapi(), FakeDingTalk()
    with WeComServer(qyapi.app) as wecom_server, DingTalkServer(dingtalk.app) as dingtalk_server:
        qyapi.url, dingtalk.base_url = wecom_server.url, dingtalk_server.url
        yield qyapi, dingtalk


@pytest.fixture
def signin_url(plan_loaded: Database, clock: ManualClock, platforms: tuple[FakeQyapi, FakeDingTalk]) -> Iterator[str]:
    """The app with WeCom and DingTalk sign-in, served on a port known before it starts (its DUBAN_PUBLIC_URL)."""
    build_ledger(plan_loaded)
    qyapi, dingtalk = platforms
    with transaction(plan_loaded.sessions) as session:  # 马强 is on DingTalk too
        ma = session.scalars(select(Contact).where(Contact.name == "马强")).one()
        People(session).bind(campaign_of(session), "dingtalk", "0233305124211239", contact=ma, now=clock.now())
    listening = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listening.bind(("127.0.0.1", 0))
    listening.listen(64)
    public = f"http://127.0.0.1:{listening.getsockname()[1]}"
    qyapi.trusted_domain = dingtalk.redirect_host = public.removeprefix("http://")
    settings = make_settings(
        plan_loaded,
        secret_key="browser-test",
        public_url=public,
        simulator=False,
        wecom_corp_id=WECOM_CORP_ID,
        wecom_agent_id=1000002,
        wecom_secret=WECOM_SECRET,
        wecom_token="t",
        wecom_aes_key="a" * 43,
        wecom_api_base=qyapi.url,
        wecom_authorize_url=f"{qyapi.url}{WECOM_AUTHORIZE}",
        wecom_qr_login_url=f"{qyapi.url}{WECOM_WEB_LOGIN}",
        dingtalk_app_key=FakeDingTalk.APP_KEY,
        dingtalk_app_secret=FakeDingTalk.APP_SECRET,
        dingtalk_api_base=dingtalk.base_url,
        dingtalk_stream_api_base=dingtalk.base_url,
        dingtalk_authorize_url=f"{dingtalk.base_url}{DINGTALK_AUTHORIZE}",
        dingtalk_corp_id="ding0123456789abcdef",
    )
    server = uvicorn.Server(uvicorn.Config(create_app(settings, clock=clock), log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listening]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "the test server did not start"
        time.sleep(0.02)
    yield public
    server.should_exit = True
    thread.join(timeout=10)
    listening.close()


def test_signing_in_with_wecom_or_dingtalk(
    signin_url: str, browser: Browser, plan_loaded: Database, platforms: tuple[FakeQyapi, FakeDingTalk]
) -> None:
    qyapi, dingtalk = platforms
    desk = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 900})
    page = desk.new_page()
    page.goto(f"{signin_url}/dashboard/weekly")
    shot(page, "signin-login", plan_loaded.backend)
    qyapi.signed_in_as = "YuJianKui"  # the coordinator scans WeCom's QR code with the phone
    page.get_by_role("link", name="企业微信登录").click()
    expect(page).to_have_url(f"{signin_url}/dashboard/weekly")
    expect(page.get_by_test_id("weekly-matrix")).to_be_visible()
    expect(page.locator(".who")).to_have_text("俞建奎")
    page.get_by_role("button", name="退出").click()
    expect(page).to_have_url(f"{signin_url}/dashboard/login")
    desk.close()

    with transaction(plan_loaded.sessions) as session:
        own = unit_named(session, "执法监察支队").id
    phone = browser.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True, locale="zh-CN")
    small = phone.new_page()
    outside: list[str] = []
    small.on(
        "request",
        lambda request: (
            outside.append(request.url)
            if not request.url.startswith((signin_url, qyapi.url, dingtalk.base_url, "data:"))
            else None
        ),
    )
    dingtalk.signed_in_as = "0233305124211239"  # 马强 opens the workbench entry; this browser is no DingTalk
    small.goto(f"{signin_url}/dashboard/login/dingtalk/inapp?next=/dashboard")
    expect(small).to_have_url(f"{signin_url}/dashboard/units/{own}")  # the page went on to DingTalk's sign-in
    expect(small.get_by_test_id("liaison-view")).to_contain_text("只读")
    expect(small.get_by_test_id("unit-issues")).to_contain_text("辅助人员单独执法")
    assert overflow(small) == 0
    shot(small, "phone-liaison-unit", plan_loaded.backend)
    assert [call.path for call in dingtalk.calls(DINGTALK_AUTHORIZE)] == [DINGTALK_AUTHORIZE]
    phone.clear_cookies()

    qyapi.signed_in_as = "ZhaoLiu"  # in WeCom, but in no plan
    small.goto(f"{signin_url}/dashboard/login/wecom")
    expect(small.get_by_test_id("signin-refused")).to_contain_text(
        "不是「行政执法不作为慢作为乱作为专项整治」的牵头部门协调人"
    )
    assert overflow(small) == 0
    shot(small, "phone-signin-refused", plan_loaded.backend)
    small.goto(f"{signin_url}/dashboard/login")
    assert overflow(small) == 0
    shot(small, "phone-signin-login", plan_loaded.backend)
    assert outside == [], "sign-in pages load nothing from outside the app and the platforms"
    phone.close()


CHILD_PLAN = """
campaign:
  name: 法制科专项整治自查
  alias: 法制科自查
  start: 2020-06-10
  end: 2020-10-31
  parent: {campaign: 行政执法不作为慢作为乱作为专项整治, unit: 法制科}
units:
  - {name: 一股}
  - {name: 二股}
"""


def test_switching_campaigns_in_the_header(live_url: str, browser: Browser, plan_loaded: Database) -> None:
    # A department's own campaign reporting up to this one: its coordinator 俞建奎 may look into it (read-only).
    with transaction(plan_loaded.sessions) as session:
        child = load_plan(session, parse_plan(CHILD_PLAN, "child"), now=campaign_of(session).created_at).campaign.id
    phone = browser.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True, locale="zh-CN")
    page = phone.new_page()
    page.goto(f"{live_url}/dashboard/login")
    page.get_by_label("登录名").fill("yu")
    page.get_by_label("密码").fill("correct horse")
    page.get_by_role("button", name="登录").click()
    page.get_by_role("link", name="问题台账").click()
    expect(page.get_by_test_id("ledger-total")).to_have_text("共 7 个")

    switcher = page.get_by_test_id("campaign-switcher")
    switcher.locator("summary").click()
    assert overflow(page) == 0, "the open switcher fits a phone"
    shot(page, "phone-switcher", plan_loaded.backend)
    switcher.get_by_role("link", name="法制科专项整治自查（法制科自查）").click()
    expect(page).to_have_url(f"{live_url}/dashboard/issues?campaign={child}")  # the same page, the other campaign
    expect(page.get_by_test_id("ledger-total")).to_have_text("共 0 个")
    expect(page.get_by_test_id("read-only")).to_contain_text("只能查看")
    page.get_by_test_id("ledger-filters").get_by_role("button", name="筛选").click()
    expect(page).to_have_url(f"{live_url}/dashboard/issues?campaign={child}&unit=&status=&focus_area=&source=")
    page.get_by_role("link", name="单位").click()
    expect(page).to_have_url(f"{live_url}/dashboard/units?campaign={child}")
    expect(page.locator("main")).to_contain_text("二股")
    phone.close()
