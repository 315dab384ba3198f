"""Signing in to the dashboard with WeCom, against the fake WeCom on loopback: a coordinator gets the dashboard, a
liaison their own unit read-only, anyone else a page that says why; a code signs in once, a state only the browser
it was issued to, and the way back is always DUBAN_PUBLIC_URL's."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from typer.testing import CliRunner

from bot.app import create_app
from bot.cli import app as cli
from bot.services import dashboard_link_for, route_for
from core.clock import ManualClock
from scheduler.engine import ReminderEngine
from storage.db import transaction
from storage.models import AuditEntry, ChatIdentity, OutboxMessage
from tests.bot.signin import IN_WECOM, PUBLIC_URL, come_back, leave_for_platform, query_of, sessions_of, sign_in
from tests.bot.test_dashboard_access import csrf_of
from tests.bot.wecom.conftest import AGENT_ID, wecom_settings
from tests.bot.wecom.fake_qyapi import AUTHORIZE, CORP_ID, GETUSERINFO, OUTSIDER, WEB_LOGIN, FakeQyapi
from tests.bot.wecom.platform import WeComChat, WeComSide
from tests.conftest import Database, at
from tests.factories import build_ledger, unit_named

CALLBACK = f"{PUBLIC_URL}/dashboard/login/wecom/callback"


def signin_app(db: Database, qyapi: FakeQyapi, clock: ManualClock, **overrides: object) -> TestClient:
    settings = wecom_settings(
        db,
        qyapi,
        public_url=PUBLIC_URL,
        secret_key="signin-test",
        wecom_authorize_url=f"{qyapi.url}{AUTHORIZE}",
        wecom_qr_login_url=f"{qyapi.url}{WEB_LOGIN}",
        **overrides,
    )
    return TestClient(create_app(settings, clock=clock), follow_redirects=False)


@pytest.fixture
def app_client(plan_loaded: Database, qyapi: FakeQyapi, clock: ManualClock) -> Iterator[TestClient]:
    build_ledger(plan_loaded)
    with signin_app(plan_loaded, qyapi, clock) as client:
        yield client


def test_inside_wecom_a_coordinator_is_signed_in_without_a_tap(
    app_client: TestClient, qyapi: FakeQyapi, plan_loaded: Database
) -> None:
    qyapi.signed_in_as = "YuJianKui"
    done = sign_in(app_client, "/dashboard/login/wecom?next=/dashboard/issues?overdue=true", **{"User-Agent": IN_WECOM})

    assert done.authorize.path == AUTHORIZE and done.authorize.fragment == "wechat_redirect"
    assert query_of(done.authorize) | {"state": "…"} == {
        "appid": CORP_ID,
        "redirect_uri": CALLBACK,
        "response_type": "code",
        "scope": "snsapi_base",
        "agentid": str(AGENT_ID),
        "state": "…",
    }
    assert done.response.status_code == 303 and done.response.headers["location"] == "/dashboard/issues?overdue=true"
    page = app_client.get("/dashboard/issues?overdue=true")
    assert page.status_code == 200 and "俞建奎" in page.text and "案卷不规范" in page.text
    assert [call.query["code"] for call in qyapi.calls(GETUSERINFO)] == [query_of(done.callback)["code"]]
    assert sessions_of(plan_loaded) == [("wecom", "YuJianKui")]


def test_a_desktop_browser_gets_the_qr_code_login(app_client: TestClient, qyapi: FakeQyapi) -> None:
    qyapi.signed_in_as = "YuJianKui"
    done = sign_in(app_client, "/dashboard/login/wecom")
    assert done.authorize.path == WEB_LOGIN
    assert query_of(done.authorize) | {"state": "…"} == {
        "login_type": "CorpApp",
        "appid": CORP_ID,
        "agentid": str(AGENT_ID),
        "redirect_uri": CALLBACK,
        "state": "…",
    }
    assert done.response.headers["location"] == "/dashboard"
    assert app_client.get("/api/summary").status_code == 200


def test_a_liaison_sees_their_own_unit_and_nothing_else(
    app_client: TestClient, qyapi: FakeQyapi, plan_loaded: Database
) -> None:
    with transaction(plan_loaded.sessions) as session:
        own, other = unit_named(session, "执法监察支队").id, unit_named(session, "法制科").id
    qyapi.signed_in_as = "MaQiang"  # 马强, 执法监察支队's liaison in the plan
    done = sign_in(app_client, "/dashboard/login/wecom?next=/dashboard", **{"User-Agent": IN_WECOM})

    assert done.response.headers["location"] == f"/dashboard/units/{own}"
    page = app_client.get(f"/dashboard/units/{own}")
    assert page.status_code == 200 and "辅助人员单独执法" in page.text and "只读" in page.text
    assert "问题台账" not in page.text  # no coordinator menu
    assert app_client.get("/dashboard/issues/5").status_code == 200  # its own issue
    for path in (
        f"/dashboard/units/{other}",
        "/dashboard/issues/1",
        f"/dashboard/units/{other}/weekly/2020-W29",
        "/dashboard/issues",
        "/dashboard/weekly",
        "/dashboard/registrations",
        "/dashboard/export/issues.xlsx",
    ):
        refused = app_client.get(path)
        assert refused.status_code == 403 and "只能查看本单位" in refused.text, path
    assert app_client.get("/api/issues").status_code == 401
    assert app_client.get("/dashboard").headers["location"] == f"/dashboard/units/{own}"
    assert app_client.get("/dashboard/login").headers["location"] == f"/dashboard/units/{own}"


@pytest.mark.parametrize(
    ("user", "says"),
    [
        ("ZhaoLiu", "企业微信账号（ZhaoLiu）不是「行政执法不作为慢作为乱作为专项整治」的牵头部门协调人"),
        (f"{OUTSIDER}o-wechat-user", "不是本组织的成员"),
        ("LiNa", "还在等待牵头部门审核"),  # registered in chat, not yet approved
    ],
    ids=["member-not-in-plan", "not-a-member", "pending-liaison"],
)
def test_anyone_else_gets_a_page_saying_why(
    app_client: TestClient, qyapi: FakeQyapi, plan_loaded: Database, user: str, says: str
) -> None:
    qyapi.signed_in_as = user
    done = sign_in(app_client, "/dashboard/login/wecom", **{"User-Agent": IN_WECOM})
    assert done.response.status_code == 403 and says in done.response.text
    assert sessions_of(plan_loaded) == []
    assert app_client.get("/dashboard").status_code == 303


def test_a_code_signs_in_once(app_client: TestClient, qyapi: FakeQyapi, plan_loaded: Database) -> None:
    qyapi.signed_in_as = "YuJianKui"
    back = come_back(leave_for_platform(app_client, "/dashboard/login/wecom", **{"User-Agent": IN_WECOM}))
    copied = dict(app_client.cookies)  # the cookie as it was when the code came back
    assert app_client.get(back).status_code == 303
    app_client.post("/dashboard/logout", data={"csrf": csrf_of(app_client.get("/dashboard").text)})

    again = app_client.get(back)  # the same address in this browser: its state is spent
    assert again.status_code == 400 and "登录请求已过期" in again.text
    app_client.cookies.clear()
    for name, value in copied.items():
        app_client.cookies.set(name, value)
    replayed = app_client.get(back)  # the address and a copy of the cookie that went with it
    assert replayed.status_code == 400 and "这个登录链接已经用过了" in replayed.text
    assert len(qyapi.calls(GETUSERINFO)) == 1, "a used code is refused before WeCom is asked again"
    assert sessions_of(plan_loaded) == []


def test_a_forged_or_stale_state_is_refused(
    app_client: TestClient, qyapi: FakeQyapi, plan_loaded: Database, clock: ManualClock
) -> None:
    qyapi.signed_in_as = "YuJianKui"
    back = come_back(leave_for_platform(app_client, "/dashboard/login/wecom", **{"User-Agent": IN_WECOM}))
    forged = back.replace(f"state={query_of(back)['state']}", "state=forged-by-someone")
    assert app_client.get(forged).status_code == 400

    stranger_browser = TestClient(app_client.app, follow_redirects=False)  # no cookie: a link sent to a victim
    assert stranger_browser.get(back).status_code == 400

    back = come_back(leave_for_platform(app_client, "/dashboard/login/wecom", **{"User-Agent": IN_WECOM}))
    clock.advance(timedelta(minutes=11))
    stale = app_client.get(back)
    assert stale.status_code == 400 and "登录请求已过期" in stale.text
    assert qyapi.calls(GETUSERINFO) == [] and sessions_of(plan_loaded) == []


def test_the_way_back_is_the_public_url_whatever_the_request_says(app_client: TestClient, qyapi: FakeQyapi) -> None:
    authorize = leave_for_platform(
        app_client,
        "/dashboard/login/wecom?redirect_uri=https://evil.example/steal&next=https://evil.example/",
        **{"User-Agent": IN_WECOM, "Host": "evil.example", "X-Forwarded-Host": "evil.example"},
    )
    assert query_of(authorize)["redirect_uri"] == CALLBACK
    qyapi.signed_in_as = "YuJianKui"
    landed = app_client.get(come_back(authorize))
    assert landed.headers["location"] == "/dashboard"  # next= another site is dropped


def test_a_public_url_the_app_does_not_trust_is_refused_by_wecom(
    plan_loaded: Database, qyapi: FakeQyapi, clock: ManualClock
) -> None:
    qyapi.signed_in_as = "YuJianKui"
    qyapi.trusted_domain = "duban.example.gov.cn"  # the 可信域名 set in WeCom's admin console
    with signin_app(plan_loaded, qyapi, clock) as client:
        authorize = leave_for_platform(client, "/dashboard/login/wecom")
    answer = httpx.get(authorize)
    assert answer.status_code == 400 and "redirect_uri参数错误" in answer.text


def test_sessions_from_wecom_end_like_any_other(
    app_client: TestClient, qyapi: FakeQyapi, plan_loaded: Database
) -> None:
    qyapi.signed_in_as = "YuJianKui"
    sign_in(app_client, "/dashboard/login/wecom", **{"User-Agent": IN_WECOM})
    assert app_client.get("/api/summary").status_code == 200
    logout = app_client.post("/dashboard/logout", data={"csrf": csrf_of(app_client.get("/dashboard").text)})
    assert logout.status_code == 303
    assert sessions_of(plan_loaded) == [] and app_client.get("/api/summary").status_code == 401

    sign_in(app_client, "/dashboard/login/wecom", **{"User-Agent": IN_WECOM})
    with transaction(plan_loaded.sessions) as session:  # the plan no longer names this WeCom user
        session.execute(ChatIdentity.__table__.delete().where(ChatIdentity.external_id == "YuJianKui"))
    assert app_client.get("/api/summary").status_code == 401


def test_wecom_refusing_the_code_is_said_plainly(app_client: TestClient, qyapi: FakeQyapi) -> None:
    qyapi.signed_in_as = "YuJianKui"
    qyapi.fail_next(GETUSERINFO, {"errcode": 40029, "errmsg": "invalid code"})
    done = sign_in(app_client, "/dashboard/login/wecom", **{"User-Agent": IN_WECOM})
    assert done.response.status_code == 502 and "企业微信没有确认您的身份" in done.response.text
    assert "重新登录" in done.response.text


def test_refused_sign_ins_count_towards_the_address_limit(
    app_client: TestClient, qyapi: FakeQyapi, plan_loaded: Database
) -> None:
    for _ in range(20):
        assert app_client.get("/dashboard/login/wecom/callback?code=guess&state=guess").status_code == 400
    qyapi.signed_in_as = "YuJianKui"
    locked = sign_in(app_client, "/dashboard/login/wecom", **{"User-Agent": IN_WECOM})
    assert locked.response.status_code == 429 and "登录失败次数过多" in locked.response.text
    with transaction(plan_loaded.sessions) as session:
        assert (
            session.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "login.failed"))
            == 20
        )


# --- links in chat replies and reminders ----------------------------------------------------------------------


def test_a_replys_link_opens_the_page_signed_in_inside_wecom(
    app_client: TestClient, qyapi: FakeQyapi, side: WeComSide
) -> None:
    reply = WeComChat(app_client, side, qyapi).send("YuJianKui", "逾期")
    link = f"{PUBLIC_URL}/dashboard/login/wecom?next=%2Fdashboard%2Fissues%3Foverdue%3Dtrue"
    assert f"[逾期问题台账]({link})" in reply and "案卷不规范" in reply

    qyapi.signed_in_as = "YuJianKui"  # the coordinator taps the link in WeCom
    done = sign_in(app_client, link.removeprefix(PUBLIC_URL), **{"User-Agent": IN_WECOM})
    assert done.response.headers["location"] == "/dashboard/issues?overdue=true"
    ledger = app_client.get("/dashboard/issues?overdue=true")
    assert ledger.status_code == 200 and "案卷不规范" in ledger.text


def test_reminders_that_point_at_the_dashboard_carry_a_link(
    plan_loaded: Database, qyapi: FakeQyapi, clock: ManualClock
) -> None:
    build_ledger(plan_loaded)
    settings = wecom_settings(plan_loaded, qyapi, public_url=PUBLIC_URL)
    engine = ReminderEngine(
        plan_loaded.sessions, clock=clock, route=route_for(settings), link=dashboard_link_for(settings)
    )
    for moment in ("2020-07-17 09:30", "2020-07-17 12:30"):  # Friday: the overdue digest, the weekly report's due
        clock.set(at(moment))
        engine.tick()
    with transaction(plan_loaded.sessions) as session:
        texts = {
            row.key.split(":")[0]: row.text
            for row in session.scalars(select(OutboxMessage))
            if row.target == "YuJianKui" and row.key
        }
    assert texts["issue.overdue"].endswith(
        f"逾期问题台账：{PUBLIC_URL}/dashboard/login/wecom?next=%2Fdashboard%2Fissues%3Foverdue%3Dtrue"
    )
    assert texts["weekly.due"].endswith(f"周报报送情况：{PUBLIC_URL}/dashboard/login/wecom?next=%2Fdashboard%2Fweekly")


def test_the_cli_lists_and_revokes_platform_sessions(
    plan_loaded: Database, qyapi: FakeQyapi, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("DUBAN_DATABASE_URL", plan_loaded.url)  # for the CLI, which reads the wall clock
    monkeypatch.chdir(tmp_path)
    with signin_app(plan_loaded, qyapi, ManualClock(datetime.now(UTC))) as client:
        qyapi.signed_in_as = "MaQiang"
        assert sign_in(client, "/dashboard/login/wecom", **{"User-Agent": IN_WECOM}).response.status_code == 303
        listed = CliRunner().invoke(cli, ["user", "sessions"])
        assert listed.exit_code == 0 and "wecom:MaQiang\t马强（联络员）" in listed.output
        revoked = CliRunner().invoke(cli, ["user", "sessions", "--revoke"])
        assert revoked.exit_code == 0 and "已结束 1 个" in revoked.output
        assert client.get("/dashboard").status_code == 303
