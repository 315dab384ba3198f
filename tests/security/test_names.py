"""Names and titles are shown to coordinators in chat, on the dashboard and in the exported tables: bidirectional
controls (which make text read otherwise than it is) are dropped, and markup is refused in a person's name."""

from __future__ import annotations

from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select
from typer.testing import CliRunner

from bot.cli import app as cli
from storage.db import transaction
from storage.models import Contact, Issue
from tests.bot.test_sim_stories import FULL_ISSUE
from tests.conftest import Database, SimChat

RLO, PDF, LRI = "\u202e", "\u202c", "\u2066"


def register(name: str) -> str:
    return f"登记\n单位：法制科\n姓名：{name}\n职务：法制科科长\n电话：13909551234"


def contact_names(db: Database) -> list[str]:
    with transaction(db.sessions) as session:
        return list(session.scalars(select(Contact.name).where(Contact.unit.has(name="法制科"))))


def test_bidi_controls_are_dropped_from_a_name(chat: SimChat, plan_loaded: Database) -> None:
    reply = chat.send("LuHeJian", register(f"陆{RLO}建和{PDF}"))
    assert "登记成功" in reply and RLO not in reply
    assert contact_names(plan_loaded) == ["陆建和"]


@pytest.mark.parametrize("name", ["<b>陆和建</b>", "[陆和建](http://evil.example)", "**陆和建**", "陆和建<img>"])
def test_markup_in_a_name_is_refused_and_nothing_is_stored(chat: SimChat, plan_loaded: Database, name: str) -> None:
    before = contact_names(plan_loaded)
    assert "姓名只能由文字组成" in chat.send("LuHeJian", register(name))
    chat.send("LuHeJian", "取消")
    assert contact_names(plan_loaded) == before


def test_real_names_with_separators_are_kept(chat: SimChat, plan_loaded: Database) -> None:
    assert "登记成功" in chat.send("LuHeJian", register("买买提·艾力"))
    assert contact_names(plan_loaded) == ["买买提·艾力"]


def test_an_issue_title_reaches_the_export_without_bidi_controls(
    chat: SimChat, plan_loaded: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    chat.send("LuHeJian", register("陆和建"))
    sneaky = FULL_ISSUE.replace("执法证件未按期年检", f"执法证件{LRI}未按期{RLO}年检{PDF}")
    assert "已登记问题 #1「执法证件未按期年检」" in chat.send("LuHeJian", sneaky)
    with transaction(plan_loaded.sessions) as session:
        assert session.scalar(select(func.count()).select_from(Issue).where(Issue.title == "执法证件未按期年检")) == 1
    monkeypatch.setenv("DUBAN_DATABASE_URL", plan_loaded.url)
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "issues.xlsx"
    assert CliRunner().invoke(cli, ["export", "issues", "--out", str(out)]).exit_code == 0
    cells = [str(cell) for row in load_workbook(out).active.iter_rows(values_only=True) for cell in row if cell]
    assert "执法证件未按期年检" in cells and not any(RLO in c or LRI in c or PDF in c for c in cells)
