"""`duban export {contacts,issues,stats} --out FILE [--unit NAME]`: the official tables as Excel files;
`duban export bulletin --week 2026-W49 --out FILE.docx`: the week's 工作简报 as a Word document. Each of one
campaign: `--campaign NAME_OR_ALIAS` (bot.cli_support.choose_campaign)."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from bot.cli_support import CampaignOption, campaign_today, fail, scope, session_factory
from bot.cli_text import Typer
from bot.settings import get_settings
from exports.bulletin_docx import write_bulletin
from exports.tables import export_contacts, export_issues, export_stats
from handlers.bulletin import BulletinError, compile_bulletin, parse_week
from storage.db import transaction
from storage.repos import Issues

app = Typer(help="导出附件表格（Excel）和工作简报（Word）", no_args_is_help=True)

OutOption = Annotated[Path, typer.Option("--out", "-o", help="写入的 .xlsx 文件", dir_okay=False)]
UnitOption = Annotated[str | None, typer.Option("--unit", "-u", help="只导出一个单位（名称或简称）；默认全部单位")]


@contextmanager
def _written(out: Path, suffix: str = ".xlsx") -> Iterator[Path]:
    """A temporary file beside `out` that replaces it only once the document is complete: an export that
    fails half-way leaves no half-written file (and keeps the previous one)."""
    if out.suffix.lower() != suffix:
        fail(f"输出文件应以 {suffix} 结尾：{out}")
    if not out.parent.is_dir():
        fail(f"目录不存在：{out.parent}")
    handle, name = tempfile.mkstemp(prefix=f".{out.stem}-", suffix=suffix, dir=out.parent)
    os.close(handle)
    partial = Path(name)
    try:
        yield partial
        os.replace(partial, out)
    finally:
        partial.unlink(missing_ok=True)


@app.command("contacts", help="附件1 联系人（每个单位都列出，未报送的写明）。")
def contacts(out: OutOption, unit: UnitOption = None, campaign_name: CampaignOption = None) -> None:
    """附件1 联系人."""
    with transaction(session_factory(get_settings())) as session, _written(out) as partial:
        campaign, chosen = scope(session, campaign_name, unit)
        rows = export_contacts(session, campaign, partial, today=campaign_today(campaign), unit=chosen)
    typer.echo(f"已导出附件1 联系人 {rows} 人：{out}")


@app.command("issues", help="附件2 问题清单（全部单位一个工作表、每个单位一个工作表，或一个单位）。")
def issues(
    out: OutOption,
    unit: UnitOption = None,
    sheet_per_unit: Annotated[bool, typer.Option("--sheet-per-unit", help="每个单位一个工作表")] = False,
    campaign_name: CampaignOption = None,
) -> None:
    """附件2 问题清单 (one sheet for all units, one per unit, or one unit's)."""
    with transaction(session_factory(get_settings())) as session, _written(out) as partial:
        campaign, chosen = scope(session, campaign_name, unit)
        total = Issues(session).count(campaign, chosen)
        columns = (TextColumn("[bold]导出问题清单"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
        with Progress(*columns, transient=True) as progress:
            task = progress.add_task("issues", total=total)
            rows = export_issues(
                session,
                campaign,
                partial,
                today=campaign_today(campaign),
                unit=chosen,
                sheet_per_unit=sheet_per_unit,
                progress=lambda done: progress.update(task, completed=done),
            )
    typer.echo(f"已导出附件2 问题清单 {rows} 个问题：{out}")


@app.command("stats", help="附件3 统计表（一个单位的，或全部单位合计）。")
def stats(out: OutOption, unit: UnitOption = None, campaign_name: CampaignOption = None) -> None:
    """附件3 统计表 (one unit's or summed over the campaign)."""
    with transaction(session_factory(get_settings())) as session, _written(out) as partial:
        campaign, chosen = scope(session, campaign_name, unit)
        table = export_stats(session, campaign, partial, today=campaign_today(campaign), unit=chosen)
    found = sum(table.found.values())
    typer.echo(f"已导出附件3 统计表（发现问题 {found} 个）：{out}")


@app.command("bulletin", help="某一周的工作简报（Word，公文格式），数字与「汇总」一致。")
def bulletin(
    out: Annotated[Path, typer.Option("--out", "-o", help="写入的 .docx 文件", dir_okay=False)],
    week: Annotated[str | None, typer.Option("--week", "-w", help="周次，如 2026-W49；默认本周")] = None,
    campaign_name: CampaignOption = None,
) -> None:
    """工作简报 of a week (Word)."""
    with transaction(session_factory(get_settings())) as session, _written(out, ".docx") as partial:
        campaign, _ = scope(session, campaign_name, None)
        today = campaign_today(campaign)
        try:
            iso_year, iso_week = parse_week(week) if week else today.isocalendar()[:2]
            compiled = compile_bulletin(session, campaign, iso_year, iso_week, today=today)
        except BulletinError as error:
            fail(str(error))
            return
        write_bulletin(compiled, str(partial))
    typer.echo(f"已生成第{compiled.number}期工作简报（第{compiled.iso_week}周）：{out}")
