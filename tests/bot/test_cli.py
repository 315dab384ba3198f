"""The `duban` CLI as an administrator uses it: plan load, demo, user add-coordinator."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from typer.testing import CliRunner

from bot.app import create_app
from bot.cli import app
from bot.demo import DEMO_NAME
from core.clock import ManualClock
from core.statuses import IssueStatus
from handlers.summary import campaign_status
from storage.db import transaction
from storage.models import Campaign, Coordinator, Issue
from tests.conftest import FIXTURES, Database, SimChat, make_settings

runner = CliRunner()


@pytest.fixture
def cli_env(db: Database, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Database:
    monkeypatch.setenv("DUBAN_DATABASE_URL", db.url)
    monkeypatch.chdir(tmp_path)  # no stray .env is read
    return db


def test_plan_load_creates_then_reports_no_change(cli_env: Database) -> None:
    first = runner.invoke(app, ["plan", "load", str(FIXTURES / "plan.yaml")])
    assert first.exit_code == 0, first.output
    assert "已创建：行政执法不作为慢作为乱作为专项整治" in first.output
    second = runner.invoke(app, ["plan", "load", str(FIXTURES / "plan.yaml")])
    assert second.exit_code == 0 and "无变化" in second.output


def test_plan_load_with_an_error_writes_nothing(cli_env: Database, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        (FIXTURES / "plan.yaml").read_text(encoding="utf-8").replace("end: 10月下旬}", "end: 十月某日}"),
        encoding="utf-8",
    )
    result = runner.invoke(app, ["plan", "load", str(bad)])
    assert result.exit_code == 1
    assert f"{bad}:14: phases[2].end: 无法识别的日期「十月某日」" in result.output
    with transaction(cli_env.sessions) as session:
        assert session.scalar(select(func.count()).select_from(Campaign)) == 0


def test_demo_campaign_puts_today_in_the_self_inspection_phase(cli_env: Database) -> None:
    result = runner.invoke(app, ["demo"])
    assert result.exit_code == 0 and "已加载演示" in result.output
    assert "已存在" in runner.invoke(app, ["demo"]).output
    with transaction(cli_env.sessions) as session:
        campaign = session.scalars(select(Campaign).where(Campaign.name == DEMO_NAME)).one()
        today = datetime.now(UTC).astimezone(ZoneInfo("Asia/Shanghai")).date()
        status = campaign_status(session, campaign, today)
        assert status.phase is not None and status.phase.name == "自查整改阶段"
        statuses = set(session.scalars(select(Issue.status)))
        assert statuses == set(IssueStatus)
        assert status.totals.overdue > 0 and status.pending_registrations == 1


def test_demo_users_can_talk_to_the_bot(cli_env: Database) -> None:
    runner.invoke(app, ["demo"])
    clock = ManualClock(datetime.now(UTC))
    with TestClient(create_app(make_settings(cli_env), clock=clock)) as client:
        chat = SimChat(client)
        users = client.get("/sim/api/users").json()["users"]
        assert {"YuJianKui", "LuHeJian", "ZhaoLei", "stranger1"} <= {u["id"] for u in users}
        assert "自查整改阶段" in chat.send("YuJianKui", "汇总")
        assert "逾期" in chat.send("YuJianKui", "逾期")
        assert "未销号问题" in chat.send("LuHeJian", "我的问题")
        registration = "登记\n单位：国土空间规划科\n姓名：刘洋\n职务：科长\n电话：13909550006"
        assert "登记成功" in chat.send("LiuYang", registration)


def test_add_coordinator_hashes_the_password_and_binds_the_chat_identity(cli_env: Database) -> None:
    runner.invoke(app, ["plan", "load", str(FIXTURES / "plan.yaml")])
    result = runner.invoke(
        app,
        [
            "user",
            "add-coordinator",
            "--name",
            "张主任",
            "--login",
            "zhang",
            "--password",
            "correct-horse",
            "--wecom-userid",
            "ZhangZR",
        ],
    )
    assert result.exit_code == 0, result.output
    with transaction(cli_env.sessions) as session:
        coordinator = session.scalars(select(Coordinator).where(Coordinator.login == "zhang")).one()
        assert coordinator.password_hash and "correct-horse" not in coordinator.password_hash
        assert PasswordHasher().verify(coordinator.password_hash, "correct-horse")
    with TestClient(create_app(make_settings(cli_env))) as client:
        assert "牵头部门协调人" in SimChat(client).send("ZhangZR", "帮助")
    short = runner.invoke(app, ["user", "add-coordinator", "--name", "李", "--login", "li", "--password", "123"])
    assert short.exit_code == 1 and "至少 8 位" in short.output


def test_demo_prints_a_dashboard_login_that_works(cli_env: Database) -> None:
    first = re.search(r"登录名 demo  密码 (\S+?)（", runner.invoke(app, ["demo"]).output).group(1)  # type: ignore[union-attr]
    second = re.search(r"登录名 demo  密码 (\S+?)（", runner.invoke(app, ["demo"]).output).group(1)  # type: ignore[union-attr]
    assert first != second  # never a well-known password
    with TestClient(create_app(make_settings(cli_env, secret_key="k"), clock=ManualClock(datetime.now(UTC)))) as client:

        def log_in(password: str) -> int:
            form = client.get("/dashboard/login").text
            csrf = re.search(r'name="csrf" value="([^"]+)"', form).group(1)  # type: ignore[union-attr]
            response = client.post(
                "/dashboard/login", data={"login": "demo", "password": password, "csrf": csrf}, follow_redirects=False
            )
            return response.status_code

        assert log_in(first) != 303
        assert log_in(second) == 303
        assert "演示" in client.get("/dashboard").text


def test_serve_freezes_what_the_process_holds_after_start_up(
    cli_env: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    import gc

    import uvicorn

    served: list[int] = []
    monkeypatch.setattr(uvicorn, "run", lambda _app, **_options: served.append(gc.get_freeze_count()))
    monkeypatch.setattr("bot.logs.configure_logging", lambda *_args, **_kwargs: None)  # keep pytest's logging
    try:
        result = runner.invoke(app, ["serve"])
        assert result.exit_code == 0, result.output
        assert served and served[0] > 100_000  # modules, mappers, the app: out of the collector's reach
    finally:
        gc.unfreeze()


def test_serve_keeps_idle_connections_as_long_as_configured(cli_env: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    """uvicorn would close an idle connection after 5 s, while the proxy in front still counts it as open: a
    request the proxy sent on it at that moment got no answer at all (tests/deploy checks nginx closes first)."""
    import gc

    import uvicorn

    served: list[dict[str, object]] = []
    monkeypatch.setattr(uvicorn, "run", lambda _app, **options: served.append(options))
    monkeypatch.setattr("bot.logs.configure_logging", lambda *_args, **_kwargs: None)  # keep pytest's logging
    try:
        assert runner.invoke(app, ["serve"]).exit_code == 0
        monkeypatch.setenv("DUBAN_HTTP_KEEP_ALIVE", "120")
        assert runner.invoke(app, ["serve"]).exit_code == 0
    finally:
        gc.unfreeze()
    assert [options["timeout_keep_alive"] for options in served] == [75, 120]
