"""The login page offers what the deployment has: WeCom and DingTalk buttons once DUBAN_PUBLIC_URL and the
platform's app are set, the password form unless DUBAN_DASHBOARD_PASSWORDS=off (which also ends password sessions).
The platforms' own flows are in tests/bot/wecom/test_signin.py and tests/bot/dingtalk/test_signin.py."""

from __future__ import annotations

from fastapi.testclient import TestClient
from itsdangerous import URLSafeTimedSerializer

from bot.app import create_app
from core.clock import ManualClock
from tests.bot.signin import PUBLIC_URL
from tests.bot.test_dashboard_access import SECRET, log_in
from tests.conftest import Database, SimChat, make_settings
from tests.factories import build_ledger, set_password

PLATFORMS = {
    "public_url": PUBLIC_URL,
    "wecom_corp_id": "wwcorp",
    "wecom_agent_id": 1000002,
    "wecom_secret": "s",
    "dingtalk_app_key": "dingkey",
    "dingtalk_app_secret": "s",
    "simulator": False,
}


def app(db: Database, clock: ManualClock, **settings: object) -> TestClient:
    return TestClient(create_app(make_settings(db, secret_key=SECRET, **settings), clock=clock), follow_redirects=False)


def test_the_login_page_offers_each_configured_platform(plan_loaded: Database, clock: ManualClock) -> None:
    with app(plan_loaded, clock, **PLATFORMS) as client:
        page = client.get("/dashboard/login?next=/dashboard/weekly").text
    assert 'href="/dashboard/login/wecom?next=/dashboard/weekly"' in page and "企业微信登录" in page
    assert 'href="/dashboard/login/dingtalk?next=/dashboard/weekly"' in page and "钉钉登录" in page
    assert 'name="password"' in page


def test_without_a_public_url_there_is_no_platform_sign_in(plan_loaded: Database, clock: ManualClock) -> None:
    with app(plan_loaded, clock, **(PLATFORMS | {"public_url": None})) as client:
        assert "企业微信登录" not in client.get("/dashboard/login").text
        refused = client.get("/dashboard/login/wecom")
    assert refused.status_code == 404 and "尚未配置企业微信登录" in refused.text


def test_passwords_can_be_turned_off(plan_loaded: Database, clock: ManualClock) -> None:
    set_password(plan_loaded)
    with app(plan_loaded, clock) as client:
        assert log_in(client).status_code == 303
        assert client.get("/api/summary").status_code == 200
        cookies = dict(client.cookies)
    with app(plan_loaded, clock, dashboard_passwords="off", **PLATFORMS) as client:
        for name, value in cookies.items():
            client.cookies.set(name, value)
        assert client.get("/api/summary").status_code == 401, "a password session ends when passwords are off"
        page = client.get("/dashboard/login").text
        assert 'name="password"' not in page and "企业微信登录" in page
        token = URLSafeTimedSerializer(SECRET, salt="duban.dashboard.session").loads(client.cookies["duban_session"])
        refused = client.post("/dashboard/login", data={"login": "yu", "password": "correct horse", "csrf": token["x"]})
    assert refused.status_code == 403 and "已关闭密码登录" in refused.text


def test_without_a_platform_sign_in_links_go_straight_to_the_page(plan_loaded: Database, clock: ManualClock) -> None:
    build_ledger(plan_loaded)
    with app(plan_loaded, clock, public_url=PUBLIC_URL) as client:
        reply = SimChat(client).send("YuJianKui", "逾期")
    assert reply.endswith(f"逾期问题台账：{PUBLIC_URL}/dashboard/issues?overdue=true")  # its login asks for a password
    with app(plan_loaded, clock) as client:
        assert "督办网页" not in SimChat(client).send("YuJianKui", "汇总")  # no public address: no link
