"""`duban remind preview --from T1 --to T2`: what would be sent, to whom and when — and nothing is sent."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from bot.cli import app
from bot.settings import Settings
from storage.db import transaction
from storage.models import OutboxMessage
from tests.conftest import Database


@pytest.fixture
def duban(plan_loaded: Database, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    settings = Settings(_env_file=None, database_url=plan_loaded.url)  # type: ignore[call-arg]
    monkeypatch.setattr("bot.cli.get_settings", lambda: settings)
    return CliRunner()


def outbox_size(db: Database) -> int:
    with transaction(db.sessions) as session:
        return int(session.scalar(select(func.count()).select_from(OutboxMessage)) or 0)


def test_preview_lists_a_fridays_reminders_without_sending(duban: CliRunner, plan_loaded: Database) -> None:
    result = duban.invoke(app, ["remind", "preview", "--from", "2020-07-17", "--to", "2020-07-17"])
    assert result.exit_code == 0, result.output
    lines = [line for line in result.output.splitlines() if not line.startswith("    ")]
    assert lines == [
        "2020-07-17 09:00 周五  周报提醒 → 王芳（办公室）［sim］",
        "2020-07-17 09:00 周五  周报提醒 → 马强（执法监察支队）［sim］",
        "2020-07-17 11:00 周五  周报提醒 → 王芳（办公室）［sim］",
        "2020-07-17 11:00 周五  周报提醒 → 马强（执法监察支队）［sim］",
        "2020-07-17 12:00 周五  周报未报送汇总 → 俞建奎（协调人）［sim］",
        "共 5 条。",
    ]
    assert "尚有4个单位未报送：办公室、执法监察支队、法制科、耕地保护科" in result.output
    assert outbox_size(plan_loaded) == 0


def test_preview_shows_deadline_nudges_with_mentions(duban: CliRunner) -> None:
    result = duban.invoke(app, ["remind", "preview", "--from", "2020-09-23 08:00", "--to", "2020-09-23 10:00"])
    assert result.exit_code == 0, result.output
    assert "2020-09-23 09:00 周三  截止提醒 → 专项整治工作群［sim］ @13909550003" in result.output
    assert "「行政裁量基准」还有7天截止（9月30日），未报送的单位（2个）：执法监察支队、法制科" in result.output


def test_preview_says_so_when_nothing_is_due(duban: CliRunner) -> None:
    result = duban.invoke(app, ["remind", "preview", "--from", "2020-07-18", "--to", "2020-07-19"])
    assert result.exit_code == 0 and "这段时间内没有需要发送的提醒。" in result.output


@pytest.mark.parametrize(
    ("start", "end", "message"),
    [
        ("7月17日", "2020-07-18", "无法识别的时间「7月17日」"),
        ("2020-07-18", "2020-07-17", "--to 不能早于 --from"),
    ],
)
def test_preview_rejects_bad_ranges(duban: CliRunner, start: str, end: str, message: str) -> None:
    result = duban.invoke(app, ["remind", "preview", "--from", start, "--to", end])
    assert result.exit_code == 1 and message in result.output
