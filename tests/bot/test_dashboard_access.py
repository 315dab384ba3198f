"""Who gets into the dashboard and /api: coordinators with a password, one session at a time, and nobody
else — no forged or stale cookie, no form posted from another site, no guessing passwords at speed."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from itsdangerous import URLSafeTimedSerializer
from sqlalchemy import func, select

from bot.app import create_app
from bot.dashboard.api import router as api_router
from bot.dashboard.pages import router as pages_router
from bot.dashboard.plan_pages import router as plan_router
from core.clock import ManualClock
from core.statuses import ContactStatus
from storage.db import transaction
from storage.models import AuditEntry, Contact, Coordinator, OutboxMessage
from tests.conftest import Database, make_settings
from tests.factories import build_ledger, set_password

SECRET = "test-secret-key-for-sessions"


@pytest.fixture
def app_client(plan_loaded: Database, clock: ManualClock) -> Iterator[TestClient]:
    build_ledger(plan_loaded)
    set_password(plan_loaded)
    with TestClient(
        create_app(make_settings(plan_loaded, secret_key=SECRET), clock=clock), follow_redirects=False
    ) as client:
        yield client


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', html)
    assert match, "every form carries a CSRF token"
    return match.group(1)


def log_in(client: TestClient, login: str = "yu", password: str = "correct horse", **extra: str) -> object:
    token = csrf_of(client.get("/dashboard/login").text)
    return client.post("/dashboard/login", data={"login": login, "password": password, "csrf": token, **extra})


def protected_routes() -> list[tuple[str, str]]:
    routes = []
    for route in [*pages_router.routes, *plan_router.routes, *api_router.routes]:
        assert isinstance(route, APIRoute)
        if route.path == "/dashboard/login":
            continue
        path = route.path.replace("{number}", "1").replace("{kind}", "issues").replace("{contact_id}", "1")
        path = path.replace("{decision}", "approve")
        routes.extend((method, path) for method in route.methods)
    return routes


def test_every_dashboard_and_api_route_refuses_a_visitor_without_a_session(app_client: TestClient) -> None:
    routes = protected_routes()
    assert len(routes) >= 15
    for method, path in routes:
        response = app_client.request(method, path)
        if path.startswith("/api"):
            assert response.status_code == 401, (method, path)
            assert "请先以牵头部门协调人身份登录" in response.json()["detail"]
        elif method == "GET":
            assert response.status_code == 303 and response.headers["location"].startswith("/dashboard/login?next=")
        else:
            assert response.status_code in (303, 403), (method, path)  # no session, no CSRF token: never done


def test_a_liaisons_chat_identity_is_no_way_in(app_client: TestClient, plan_loaded: Database) -> None:
    # 马强 is 执法监察支队's liaison in chat; the dashboard knows only coordinators' logins.
    assert log_in(app_client, "MaQiang", "13909550003").status_code == 401
    assert app_client.get("/api/issues").status_code == 401


@pytest.mark.parametrize(
    "cookie",
    [
        "not-a-session",
        URLSafeTimedSerializer("another-key", salt="duban.dashboard.session").dumps({"c": 1, "v": "x", "x": "t"}),
        URLSafeTimedSerializer(SECRET, salt="duban.dashboard.session").dumps({"c": 1, "v": "wrong", "x": "t"}),
        URLSafeTimedSerializer(SECRET, salt="duban.dashboard.session").dumps({"x": "only-a-csrf-token"}),
    ],
    ids=["garbage", "other-key", "stale-password", "anonymous"],
)
def test_forged_or_stale_sessions_are_refused(app_client: TestClient, cookie: str) -> None:
    app_client.cookies.set("duban_session", cookie)
    assert app_client.get("/api/summary").status_code == 401
    assert app_client.get("/dashboard/units").status_code == 303


def test_a_password_change_ends_old_sessions(app_client: TestClient, plan_loaded: Database) -> None:
    assert log_in(app_client).status_code == 303
    assert app_client.get("/api/summary").status_code == 200
    set_password(plan_loaded, password="a new password")
    assert app_client.get("/api/summary").status_code == 401


def test_login_sets_a_hardened_cookie_and_goes_where_it_was_asked(app_client: TestClient) -> None:
    first = app_client.get("/dashboard/issues?overdue=true")
    assert first.headers["location"] == "/dashboard/login?next=%2Fdashboard%2Fissues%3Foverdue%3Dtrue"
    response = log_in(app_client, next="/dashboard/issues?overdue=true")
    assert response.status_code == 303 and response.headers["location"] == "/dashboard/issues?overdue=true"
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie and "secure" not in cookie
    page = app_client.get("/dashboard")
    assert page.status_code == 200 and "俞建奎" in page.text
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]


def test_the_cookie_is_secure_behind_https(plan_loaded: Database, clock: ManualClock) -> None:
    set_password(plan_loaded)
    with TestClient(
        create_app(make_settings(plan_loaded, secret_key=SECRET), clock=clock),
        base_url="https://duban.example",
        follow_redirects=False,
    ) as client:
        assert "secure" in log_in(client).headers["set-cookie"].lower()


def test_login_never_redirects_off_the_dashboard(app_client: TestClient) -> None:
    assert log_in(app_client, next="https://evil.example/").headers["location"] == "/dashboard"
    app_client.cookies.clear()
    assert log_in(app_client, next="//evil.example/x").headers["location"] == "/dashboard"


def test_wrong_password_then_too_many_attempts(app_client: TestClient, plan_loaded: Database) -> None:
    for _ in range(5):
        refused = log_in(app_client, password="guess")
        assert refused.status_code == 401 and "登录名或密码不正确" in refused.text
    locked = log_in(app_client)  # even the right password waits now
    assert locked.status_code == 429 and "登录失败次数过多" in locked.text
    with transaction(plan_loaded.sessions) as session:
        failures = session.scalar(
            select(func.count())
            .select_from(AuditEntry)
            .where(AuditEntry.action == "login.failed", AuditEntry.actor == "dashboard:yu")
        )
    assert failures == 5  # counted in the database, so every replica sees the same number


def test_the_lock_lifts_after_the_window(app_client: TestClient, clock: ManualClock) -> None:
    from datetime import timedelta

    for _ in range(5):
        log_in(app_client, password="guess")
    clock.advance(timedelta(minutes=16))
    assert log_in(app_client).status_code == 303


def test_one_address_guessing_many_logins_is_stopped(app_client: TestClient) -> None:
    for index in range(20):
        assert log_in(app_client, login=f"user{index}", password="guess").status_code == 401
    assert log_in(app_client).status_code == 429


def test_forms_without_the_sessions_csrf_token_are_refused(app_client: TestClient, plan_loaded: Database) -> None:
    refused = app_client.post("/dashboard/login", data={"login": "yu", "password": "correct horse"})
    assert refused.status_code == 403 and "CSRF" in refused.text
    log_in(app_client)
    with transaction(plan_loaded.sessions) as session:
        pending = session.scalars(select(Contact.id).where(Contact.status == ContactStatus.PENDING)).one()
    forged = app_client.post(f"/dashboard/registrations/{pending}/approve", data={"csrf": "from-another-site"})
    assert forged.status_code == 403
    with transaction(plan_loaded.sessions) as session:
        assert session.get(Contact, pending).status is ContactStatus.PENDING  # type: ignore[union-attr]


def test_coordinator_approves_and_rejects_from_the_dashboard(app_client: TestClient, plan_loaded: Database) -> None:
    log_in(app_client)
    page = app_client.get("/dashboard/registrations")
    assert "耕地保护科 李娜" in page.text
    with transaction(plan_loaded.sessions) as session:
        pending = session.scalars(select(Contact.id).where(Contact.status == ContactStatus.PENDING)).one()
    done = app_client.post(f"/dashboard/registrations/{pending}/approve", data={"csrf": csrf_of(page.text)})
    assert done.status_code == 303
    assert "已批准登记号" in app_client.get(done.headers["location"]).text
    with transaction(plan_loaded.sessions) as session:
        assert session.get(Contact, pending).status is ContactStatus.ACTIVE  # type: ignore[union-attr]
        audit = session.scalars(select(AuditEntry).where(AuditEntry.action == "contact.approve")).one()
        assert audit.actor == "dashboard:yu"
        told = session.scalars(select(OutboxMessage).where(OutboxMessage.target == "LiNa")).one()
        assert "已通过审核" in told.text
    again = app_client.post(f"/dashboard/registrations/{pending}/reject", data={"csrf": csrf_of(page.text)})
    assert again.status_code == 409 and "没有待审核的登记号" in again.text


def test_removing_a_coordinators_login_ends_their_session(app_client: TestClient, plan_loaded: Database) -> None:
    log_in(app_client)
    assert app_client.get("/api/units").status_code == 200
    with transaction(plan_loaded.sessions) as session:
        session.scalars(select(Coordinator).where(Coordinator.login == "yu")).one().login = None
    assert app_client.get("/api/units").status_code == 401
