"""`duban import contacts|issues FILE.xlsx [--apply]` as an administrator runs it: a dry run line by line that
writes nothing, then --apply, and a second --apply of the same file that changes nothing."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from bot.cli import app
from storage.db import transaction
from storage.models import AuditEntry, Issue
from tests.conftest import Database
from tests.exports.test_adopt import seed_contacts, seed_issues


@pytest.fixture
def cli(plan_loaded: Database, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunner]:
    monkeypatch.setenv("DUBAN_DATABASE_URL", plan_loaded.url)
    yield CliRunner()


def issue_count(db: Database) -> int:
    with transaction(db.sessions) as session:
        return int(session.scalar(select(func.count()).select_from(Issue)) or 0)


def test_issues_dry_run_then_apply_then_again(cli: CliRunner, plan_loaded: Database, tmp_path: Path) -> None:
    path = seed_issues(tmp_path / "附件2.xlsx")
    dry = cli.invoke(app, ["import", "issues", str(path)])
    assert dry.exit_code == 0, dry.output
    assert "读取 附件2.xlsx：工作表 法制科、办公室" in dry.output
    assert "法制科 第6行  新建  法制科  #1 执法证件未按期年检（2020年9月10日，未整改）" in dry.output
    assert "法制科 第8行  拒绝  法制科  公示不全：完成时限「下个月」无法识别" in dry.output
    assert "合计：新建 2，已存在 0，跳过 1，拒绝 1。" in dry.output
    assert "这是预演，没有写入任何数据；核对无误后加 --apply 写入。" in dry.output
    assert issue_count(plan_loaded) == 0

    applied = cli.invoke(app, ["import", "issues", str(path), "--apply"])
    assert applied.exit_code == 0 and "已写入 2 个问题。" in applied.output
    again = cli.invoke(app, ["import", "issues", str(path), "--apply"])
    assert "合计：新建 0，已存在 2，跳过 1，拒绝 1。" in again.output and "没有需要写入的内容。" in again.output
    assert issue_count(plan_loaded) == 2
    with transaction(plan_loaded.sessions) as session:
        audit = session.scalars(select(AuditEntry).where(AuditEntry.action == "import.issues")).all()
        assert [entry.detail["created"] for entry in audit] == [2, 0]


def test_contacts_apply(cli: CliRunner, tmp_path: Path) -> None:
    path = seed_contacts(tmp_path / "附件1.xlsx")
    applied = cli.invoke(app, ["import", "contacts", str(path), "--apply"])
    assert applied.exit_code == 0 and "已写入 2 位联系人。" in applied.output
    assert "Sheet1 第7行  拒绝  法治科  错单位：未找到单位「法治科」" in applied.output


def test_files_that_cannot_be_read_are_refused(cli: CliRunner, tmp_path: Path) -> None:
    bad = tmp_path / "附件2.xlsx"
    bad.write_bytes(b"PK\x03\x04 not really")
    result = cli.invoke(app, ["import", "issues", str(bad)])
    assert result.exit_code == 1 and "无法读取该文件" in result.output
    missing = cli.invoke(app, ["import", "issues", str(tmp_path / "none.xlsx")])
    assert missing.exit_code == 2
    assert cli.invoke(app, ["import", "issues", str(bad), "--unit", "法治科"]).exit_code == 1
