"""The command line in a deployment of two campaigns: each command that acts on one takes --campaign (a name or an
alias), defaults to DUBAN_CAMPAIGN or the only campaign served, and otherwise stops with the choices; `duban
campaign list|archive|unarchive`."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from typer.testing import CliRunner

from bot.app import create_app
from bot.cli import app
from core.clock import ManualClock
from plan.schema import read_plan
from plan.sync import load_plan
from storage.db import transaction
from tests.conftest import FIXTURES, Database, make_settings
from tests.factories import build_ledger

FIRST = "行政执法不作为慢作为乱作为专项整治"
SECOND = "提升行政执法质量三年行动"


@pytest.fixture
def duban(plan_loaded: Database, clock: ManualClock, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> CliRunner:
    build_ledger(plan_loaded)  # the first campaign's seven issues
    with transaction(plan_loaded.sessions) as session:
        load_plan(session, read_plan(FIXTURES / "plan_second.yaml"), now=clock.now())
    monkeypatch.setenv("DUBAN_DATABASE_URL", plan_loaded.url)  # the CLI reads its settings afresh on every run
    monkeypatch.delenv("DUBAN_CAMPAIGN", raising=False)
    monkeypatch.chdir(tmp_path)  # no stray .env is read
    return CliRunner()


@pytest.fixture
def out(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path / "out.xlsx"


def one_campaign_commands(tmp_path: Path) -> list[list[str]]:
    """Every command that acts on one campaign, as an administrator would type it."""
    table = tmp_path / "表.xlsx"
    table.write_bytes(b"")
    return [
        ["export", "contacts", "--out", str(tmp_path / "a.xlsx")],
        ["export", "issues", "--out", str(tmp_path / "a.xlsx")],
        ["export", "stats", "--out", str(tmp_path / "a.xlsx")],
        ["export", "bulletin", "--out", str(tmp_path / "a.docx")],
        ["import", "contacts", str(table)],
        ["import", "issues", str(table)],
        ["materials", "export", "--deliverable", "工作计划", "--out", str(tmp_path / "a.zip")],
        ["remind", "preview", "--from", "2020-07-17", "--to", "2020-07-17"],
        ["user", "add-coordinator", "--name", "杨帆", "--login", "yang", "--password", "correct horse"],
    ]


def test_with_two_campaigns_every_such_command_asks_which(duban: CliRunner, tmp_path: Path) -> None:
    for command in one_campaign_commands(tmp_path):
        result = duban.invoke(app, command)
        assert result.exit_code == 1, (command, result.output)
        assert "本系统有 2 个在办的专项整治，请用 --campaign 指定其中一个" in result.output, command
        assert FIRST in result.output and f"{SECOND}（简称 三年行动）" in result.output, command
    assert not (tmp_path / "a.xlsx").exists() and not (tmp_path / "a.zip").exists()


def test_the_campaign_named_by_name_or_alias(duban: CliRunner, out: Path) -> None:
    second = duban.invoke(app, ["export", "contacts", "--out", str(out), "--campaign", "三年行动"])
    assert second.exit_code == 0, second.output
    assert "已导出附件1 联系人 3 人" in second.output  # 周敏, 马强 and 何丽; its towns have none yet
    cells = {str(cell) for row in load_workbook(out).worksheets[0].iter_rows(values_only=True) for cell in row}
    assert {"司法局", "公安分局", "周敏", "何丽"} <= cells and "法制科" not in cells

    first = duban.invoke(app, ["export", "issues", "--out", str(out), "--campaign", FIRST])
    assert first.exit_code == 0 and "已导出附件2 问题清单 7 个问题" in first.output
    unit = duban.invoke(app, ["export", "stats", "--out", str(out), "--campaign", "三年行动", "--unit", "法制科"])
    assert unit.exit_code == 1 and f"「{SECOND}」中未找到单位「法制科」" in unit.output

    preview = duban.invoke(
        app, ["remind", "preview", "--from", "2020-07-17", "--to", "2020-07-17", "--campaign", "三年行动"]
    )
    assert preview.exit_code == 0, preview.output
    assert (
        "2020-07-17 10:00 周五  周报提醒 → 马强（公安分局）" in preview.output and "执法监察支队" not in preview.output
    )

    zipped = duban.invoke(
        app,
        [
            "materials",
            "export",
            "--deliverable",
            "工作计划",
            "--out",
            str(out.with_suffix(".zip")),
            "--campaign",
            "三年行动",
        ],
    )
    assert zipped.exit_code == 0 and "「年度行政执法工作计划」共 0 个文件" in zipped.output


def test_an_unknown_campaign_lists_the_ones_there_are(duban: CliRunner, out: Path) -> None:
    result = duban.invoke(app, ["export", "issues", "--out", str(out), "--campaign", "五年行动"])
    assert result.exit_code == 1 and "没有名称或简称为「五年行动」的专项整治" in result.output
    assert FIRST in result.output and "三年行动" in result.output and not out.exists()


def test_duban_campaign_is_the_default(duban: CliRunner, out: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DUBAN_CAMPAIGN", FIRST)
    result = duban.invoke(app, ["export", "issues", "--out", str(out)])
    assert result.exit_code == 0 and "7 个问题" in result.output
    assert duban.invoke(app, ["export", "issues", "--out", str(out), "--campaign", "三年行动"]).exit_code == 0
    monkeypatch.setenv("DUBAN_CAMPAIGN", "没有的专项整治")
    wrong = duban.invoke(app, ["export", "issues", "--out", str(out)])
    assert wrong.exit_code == 1 and "DUBAN_CAMPAIGN 指定的专项整治「没有的专项整治」不存在" in wrong.output


def test_campaign_list_archive_and_unarchive(duban: CliRunner, out: Path) -> None:
    listed = duban.invoke(app, ["campaign", "list"])
    assert listed.exit_code == 0, listed.output
    assert listed.output.splitlines() == [
        f"{FIRST}\t简称 —\t上级 —\t在办\t4 个单位\t2 位联络员\t1 位协调人\t7 个问题",
        f"{SECOND}\t简称 三年行动\t上级 —\t在办\t5 个单位\t2 位联络员\t2 位协调人\t0 个问题",
    ]
    archived = duban.invoke(app, ["campaign", "archive", "三年行动"])
    assert archived.exit_code == 0 and f"已归档「{SECOND}」" in archived.output
    assert "已归档" in duban.invoke(app, ["campaign", "list"]).output.splitlines()[1]
    again = duban.invoke(app, ["campaign", "archive", SECOND])
    assert again.exit_code == 0 and "已经归档" in again.output
    # One campaign served: it is the default again; the archived one's records still export by name.
    assert "7 个问题" in duban.invoke(app, ["export", "issues", "--out", str(out)]).output
    assert duban.invoke(app, ["export", "contacts", "--out", str(out), "--campaign", "三年行动"]).exit_code == 0

    restored = duban.invoke(app, ["campaign", "unarchive", "三年行动"])
    assert restored.exit_code == 0 and f"已恢复「{SECOND}」" in restored.output
    assert duban.invoke(app, ["export", "issues", "--out", str(out)]).exit_code == 1
    unknown = duban.invoke(app, ["campaign", "archive", "五年行动"])
    assert unknown.exit_code == 1 and "没有名称或简称为「五年行动」的专项整治" in unknown.output


def test_all_archived_says_so(duban: CliRunner, out: Path) -> None:
    duban.invoke(app, ["campaign", "archive", "三年行动"])
    duban.invoke(app, ["campaign", "archive", FIRST])
    result = duban.invoke(app, ["export", "issues", "--out", str(out)])
    assert result.exit_code == 1 and "没有在办的专项整治（都已归档）" in result.output
    assert "duban campaign unarchive" in result.output


def test_a_coordinators_login_belongs_to_one_campaign(
    duban: CliRunner, plan_loaded: Database, clock: ManualClock
) -> None:
    made = duban.invoke(
        app,
        [
            "user",
            "add-coordinator",
            "--name",
            "杨帆",
            "--login",
            "yang",
            "--password",
            "correct horse",
            "--campaign",
            "三年行动",
        ],
    )
    assert made.exit_code == 0 and f"「{SECOND}」的协调人 杨帆（登录名 yang）已保存" in made.output
    taken = duban.invoke(
        app,
        [
            "user",
            "add-coordinator",
            "--name",
            "俞建奎",
            "--login",
            "yang",
            "--password",
            "correct horse",
            "--campaign",
            FIRST,
        ],
    )
    assert taken.exit_code == 1 and f"登录名「yang」已属于「{SECOND}」的协调人杨帆" in taken.output
    with TestClient(create_app(make_settings(plan_loaded, secret_key="k"), clock=clock)) as client:
        token = re.search(r'name="csrf" value="([^"]+)"', client.get("/dashboard/login").text).group(1)  # type: ignore[union-attr]
        client.post("/dashboard/login", data={"login": "yang", "password": "correct horse", "csrf": token})
        assert client.get("/api/summary").json()["campaign"] == SECOND
        assert [c["name"] for c in client.get("/api/campaigns").json()] == [SECOND]
