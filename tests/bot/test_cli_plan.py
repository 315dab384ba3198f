"""`duban plan import` (and its old name `import-text`) and `duban plan load` as a coordinator runs them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from bot.cli import app
from storage.db import transaction
from storage.models import Deliverable
from tests.conftest import Database
from tests.notice.forms import to_docx, to_ofd, to_pdf
from tests.notice.test_seeds import SEEDS

runner = CliRunner()


def seed_file(number: str) -> Path:
    return next(SEEDS.glob(f"{number}_*.txt"))


def test_import_text_prints_a_commented_plan_and_a_summary() -> None:
    result = runner.invoke(app, ["plan", "import-text", str(seed_file("002"))])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("# 督办专项整治方案：由 duban plan import 从「002_")
    assert "  weekday: 周五  # 第57行「每周五上午报送本周专项整治工作信息」" in result.stdout
    assert "已识别：3 个阶段、4 个报送事项、0 项任务" in result.stderr


def test_import_text_takes_a_year_the_notice_does_not_give() -> None:
    result = runner.invoke(app, ["plan", "import-text", str(seed_file("000")), "--year", "2020"])
    assert result.exit_code == 0
    assert "    due: 2020-06-15  # 第81行「6月15日前」" in result.stdout
    assert "未写年份的日期按 2020 年计：导入时指定（--year）" in result.stdout


def test_import_text_reads_gb18030_from_stdin() -> None:
    data = seed_file("004").read_text(encoding="utf-8").encode("gb18030")
    result = runner.invoke(app, ["plan", "import-text", "-"], input=data)
    assert result.exit_code == 0
    assert result.stdout.count("  - number: ") == 43 and "「标准输入」" in result.stdout


@pytest.mark.parametrize(("suffix", "make"), [(".docx", to_docx), (".pdf", to_pdf), (".ofd", to_ofd)])
def test_import_reads_word_pdf_and_ofd_and_cites_where_in_the_file(tmp_path: Path, suffix: str, make) -> None:  # type: ignore[no-untyped-def]
    notice = tmp_path / f"通知{suffix}"
    notice.write_bytes(make(seed_file("002").read_text(encoding="utf-8")))
    result = runner.invoke(app, ["plan", "import", str(notice)])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"# 督办专项整治方案：由 duban plan import 从「通知{suffix}」生成")
    assert "已识别：3 个阶段、4 个报送事项" in result.stderr and "只找到 3 个阶段" in result.stderr
    weekly = next(line for line in result.stdout.splitlines() if line.startswith("  weekday: "))
    assert weekly.startswith("  weekday: 周五  # 第") and ("页第" in weekly) == (suffix != ".docx")


def test_import_refuses_an_old_word_file_saying_what_to_do(tmp_path: Path) -> None:
    old = tmp_path / "通知.doc"
    old.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 512)
    result = runner.invoke(app, ["plan", "import", str(old)])
    assert result.exit_code == 1 and "另存为」.docx 或 PDF" in result.stderr


def test_import_text_of_a_missing_file_fails_clearly(tmp_path: Path) -> None:
    result = runner.invoke(app, ["plan", "import-text", str(tmp_path / "none.txt")])
    assert result.exit_code == 1 and "无法读取通知文件" in result.stderr


@pytest.fixture
def cli_db(db: Database, monkeypatch: pytest.MonkeyPatch) -> Iterator[Database]:
    """The CLI pointed at the test database (it reads its settings afresh on every run)."""
    monkeypatch.setenv("DUBAN_DATABASE_URL", db.url)
    yield db


def test_imported_plan_loads_once_its_todos_are_done(tmp_path: Path, cli_db: Database) -> None:
    plan = tmp_path / "plan.yaml"
    plan.write_text(runner.invoke(app, ["plan", "import-text", str(seed_file("001"))]).stdout, encoding="utf-8")
    refused = runner.invoke(app, ["plan", "load", str(plan)])
    assert refused.exit_code == 1 and "units: 还没有填写" in refused.stderr
    plan.write_text(
        plan.read_text(encoding="utf-8").replace("units:  # TODO", "units:\n  - {name: 法制科}\n# TODO"),
        encoding="utf-8",
    )
    loaded = runner.invoke(app, ["plan", "load", str(plan)])
    assert loaded.exit_code == 0, loaded.output
    assert "已创建：行政执法不作为慢作为乱作为专项整治" in loaded.stdout
    with transaction(cli_db.sessions) as session:
        assert session.scalar(select(func.count()).select_from(Deliverable)) == 3
