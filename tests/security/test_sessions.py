"""A dashboard session ends on the server: after logout, a new password or `duban user sessions --revoke`, a copy
of the old cookie reads nothing."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from bot.app import create_app
from bot.cli import app as cli
from core.clock import ManualClock
from tests.bot.test_dashboard_access import csrf_of, log_in
from tests.conftest import Database, make_settings
from tests.factories import set_password

runner = CliRunner()


@pytest.fixture
def coordinators(plan_loaded: Database, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Database:
    set_password(plan_loaded)
    monkeypatch.setenv("DUBAN_DATABASE_URL", plan_loaded.url)  # for the CLI
    monkeypatch.chdir(tmp_path)  # no stray .env
    return plan_loaded


@pytest.fixture
def client(coordinators: Database) -> Iterator[TestClient]:
    # The CLI reads the wall clock, so the app's sessions are opened on it too.
    settings = make_settings(coordinators, secret_key="sessions-test")
    with TestClient(create_app(settings, clock=ManualClock(datetime.now(UTC))), follow_redirects=False) as test:
        yield test


def signed_in(client: TestClient, login: str = "yu", password: str = "correct horse") -> str:
    """Log in and return the session cookie, as someone who copied it would have it."""
    assert log_in(client, login, password).status_code == 303
    assert client.get("/api/summary").status_code == 200
    return client.cookies["duban_session"]


def reads_with(client: TestClient, cookie: str) -> int:
    client.cookies.set("duban_session", cookie)
    return client.get("/api/summary").status_code


def test_logout_ends_the_session_for_every_copy_of_the_cookie(client: TestClient) -> None:
    copied = signed_in(client)
    page = client.get("/dashboard")
    assert client.post("/dashboard/logout", data={"csrf": csrf_of(page.text)}).status_code == 303
    assert reads_with(client, copied) == 401


def test_a_new_password_from_the_cli_ends_the_old_sessions(client: TestClient) -> None:
    copied = signed_in(client)
    changed = runner.invoke(
        cli, ["user", "add-coordinator", "--name", "俞建奎", "--login", "yu", "--password", "another horse battery"]
    )
    assert changed.exit_code == 0 and "已结束其 1 个看板登录会话" in changed.output
    assert reads_with(client, copied) == 401


def test_the_cli_lists_and_revokes_sessions(client: TestClient, coordinators: Database) -> None:
    yu = signed_in(client)
    listed = runner.invoke(cli, ["user", "sessions"])
    assert listed.exit_code == 0 and "yu\t俞建奎" in listed.output and "来自 testclient" in listed.output

    other = runner.invoke(cli, ["user", "sessions", "--login", "nobody", "--revoke"])
    assert other.exit_code == 0 and "已结束 0 个" in other.output
    assert reads_with(client, yu) == 200

    revoked = runner.invoke(cli, ["user", "sessions", "--login", "yu", "--revoke"])
    assert revoked.exit_code == 0 and "已结束 1 个" in revoked.output
    assert reads_with(client, yu) == 401
    assert "没有未结束的看板登录会话" in runner.invoke(cli, ["user", "sessions"]).output
