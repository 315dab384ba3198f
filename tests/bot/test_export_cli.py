"""`duban export …` as an administrator runs it: files written whole, clear refusals, nothing half-written."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from docx import Document
from openpyxl import load_workbook
from typer.testing import CliRunner

from bot.cli import app
from tests.conftest import Database
from tests.factories import build_ledger


@pytest.fixture
def out_dir(tmp_path: Path) -> Path:
    (tmp_path / "out").mkdir()
    return tmp_path / "out"


@pytest.fixture
def cli(plan_loaded: Database, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunner]:
    build_ledger(plan_loaded)
    monkeypatch.setenv("DUBAN_DATABASE_URL", plan_loaded.url)  # the CLI reads its settings afresh on every run
    yield CliRunner()


@pytest.mark.parametrize(
    ("kind", "said"),
    [
        ("contacts", "已导出附件1 联系人 3 人"),
        ("issues", "已导出附件2 问题清单 7 个问题"),
        ("stats", "已导出附件3 统计表（发现问题 7 个）"),
    ],
)
def test_each_table_is_exported(cli: CliRunner, out_dir: Path, kind: str, said: str) -> None:
    out = out_dir / f"{kind}.xlsx"
    result = cli.invoke(app, ["export", kind, "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert said in result.output
    sheet = load_workbook(out).worksheets[0]
    assert re.fullmatch(r"填表时间：\d{4}年\d{1,2}月\d{1,2}日", sheet["A4"].value)
    assert list(out_dir.iterdir()) == [out]  # the temporary file was renamed, not left behind


def test_one_unit_by_alias(cli: CliRunner, out_dir: Path) -> None:
    out = out_dir / "u.xlsx"
    result = cli.invoke(app, ["export", "issues", "--out", str(out), "--unit", "支队"])
    assert result.exit_code == 0 and "2 个问题" in result.output
    assert load_workbook(out).worksheets[0]["A3"].value == "填报单位（盖章）：执法监察支队"


def test_unknown_unit_is_refused_with_the_closest_names(cli: CliRunner, out_dir: Path) -> None:
    out = out_dir / "x.xlsx"
    out.write_bytes(b"previous export")
    result = cli.invoke(app, ["export", "issues", "--out", str(out), "--unit", "法治科"])
    assert result.exit_code == 1 and "未找到单位「法治科」" in result.output and "法制科" in result.output
    assert out.read_bytes() == b"previous export" and list(out_dir.iterdir()) == [out]


def test_bad_output_paths_are_refused(cli: CliRunner, out_dir: Path) -> None:
    assert "应以 .xlsx 结尾" in cli.invoke(app, ["export", "stats", "--out", str(out_dir / "a.csv")]).output
    assert "目录不存在" in cli.invoke(app, ["export", "stats", "--out", str(out_dir / "no" / "a.xlsx")]).output


def test_the_weekly_bulletin_is_written_as_a_word_document(cli: CliRunner, out_dir: Path) -> None:
    out = out_dir / "简报.docx"
    result = cli.invoke(app, ["export", "bulletin", "--week", "2020-W29", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert f"已生成第7期工作简报（第29周）：{out}" in result.output
    paragraphs = [p.text for p in Document(str(out)).paragraphs]
    assert paragraphs[:2] == ["行政执法不作为慢作为乱作为专项整治工作简报", "第7期"]
    assert list(out_dir.iterdir()) == [out]
    refused = cli.invoke(app, ["export", "bulletin", "--week", "2020-W22", "--out", str(out_dir / "b.docx")])
    assert refused.exit_code == 1 and "在专项整治开始（2020年6月4日）之前" in refused.output
    assert "应以 .docx 结尾" in cli.invoke(app, ["export", "bulletin", "--out", str(out_dir / "b.xlsx")]).output
    assert list(out_dir.iterdir()) == [out]
