"""`duban import {contacts,issues} FILE.xlsx [--apply]`: adopt a campaign mid-way from the office's own tables."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from bot.cli_support import CampaignOption, campaign_today, fail, scope, session_factory
from bot.cli_text import Typer
from bot.settings import get_settings
from core.clock import SystemClock
from exports.adopt import ImportPlan, Outcome, apply, plan_contacts, plan_issues
from exports.table_reader import WorkbookError
from storage.db import transaction

app = Typer(help="从 Excel 导入（附件1 联系人、附件2 问题清单）：先预演，加 --apply 才写入", no_args_is_help=True)

FileArgument = Annotated[Path, typer.Argument(help="填好的 .xlsx 表格", exists=True, dir_okay=False, metavar="文件")]
ApplyOption = Annotated[bool, typer.Option("--apply", help="写入（不加时只预演，不写入任何数据）")]
UnitOption = Annotated[str | None, typer.Option("--unit", "-u", help="表格没有写明填报单位时，导入到这个单位")]
NOUNS = {"contacts": "位联系人", "issues": "个问题"}


def _run(kind: str, file: Path, write: bool, unit_name: str | None, campaign_name: str | None) -> None:
    with transaction(session_factory(get_settings())) as session:
        campaign, unit = scope(session, campaign_name, unit_name)
        try:
            if kind == "contacts":
                plan = plan_contacts(session, campaign, file, unit=unit)
            else:
                plan = plan_issues(session, campaign, file, today=campaign_today(campaign), unit=unit)
        except WorkbookError as error:
            fail(f"{file}：{error}")
            return
        _print(plan, file)
        if write:
            written = apply(session, campaign, plan, now=SystemClock().now(), actor="cli", file_name=file.name)
    if write:
        typer.echo(f"已写入 {written} {NOUNS[kind]}。" if written else "没有需要写入的内容。")
    else:
        typer.echo("这是预演，没有写入任何数据；核对无误后加 --apply 写入。")


def _print(plan: ImportPlan, file: Path) -> None:
    typer.echo(f"读取 {file.name}：工作表 {'、'.join(plan.sheets)}")
    colours = {Outcome.CREATE: typer.colors.GREEN, Outcome.REFUSE: typer.colors.RED}
    for line in plan.lines:
        reason = f"：{line.reason}" if line.reason else ""
        typer.secho(
            f"{line.where}  {line.outcome.value}  {line.unit or '—'}  {line.what}{reason}", fg=colours.get(line.outcome)
        )
    typer.echo(f"合计：{plan.summary}。")


@app.command("contacts", help="附件1 联系人 → 预先登记的联系人（本人用该手机号在聊天中登记即生效）。")
def contacts(
    file: FileArgument, write: ApplyOption = False, unit: UnitOption = None, campaign_name: CampaignOption = None
) -> None:
    """附件1 联系人 → contacts named in advance (active once they register in chat with that phone)."""
    _run("contacts", file, write, unit, campaign_name)


@app.command("issues", help="附件2 问题清单 → 问题台账（每个单位一个工作表、一个工作表，或用 --unit）。")
def issues(
    file: FileArgument, write: ApplyOption = False, unit: UnitOption = None, campaign_name: CampaignOption = None
) -> None:
    """附件2 问题清单 → the issue ledger (one sheet per unit, one sheet for all, or --unit)."""
    _run("issues", file, write, unit, campaign_name)
