"""`duban materials export --deliverable <名称> --out <file.zip> [--campaign 简称]`: every unit's files for one
deliverable of one campaign."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from bot.cli_support import CampaignOption, choose_campaign, fail
from bot.cli_text import Typer
from bot.settings import get_settings
from handlers.parsing import match_choice
from storage.db import make_engine, make_session_factory, transaction, upgrade_schema
from storage.files import Files
from storage.material_zip import write_zip
from storage.repos import Deliverables

app = Typer(help="各单位通过聊天报送的材料（文件、图片）", no_args_is_help=True)


@app.command("export", help="把一个报送事项的全部文件打包成 zip：每个单位一个文件夹，文件名为「单位-原文件名」。")
def export(
    deliverable: Annotated[str, typer.Option("--deliverable", "-d", help="报送事项名称（可写能认出的部分）")],
    out: Annotated[Path, typer.Option("--out", "-o", help="写入的 .zip 文件", dir_okay=False)],
    campaign_name: CampaignOption = None,
) -> None:
    """Write one deliverable's files as a zip."""
    settings = get_settings()
    engine = make_engine(settings.database_url)
    upgrade_schema(engine)
    files = Files.from_setting(settings.file_store, settings.files_dir)
    with transaction(make_session_factory(engine)) as session:
        campaign = choose_campaign(session, campaign_name, settings.campaign)
        choices = Deliverables(session).all(campaign)
        found = match_choice(deliverable, [d.name for d in choices])
        chosen = next((d for d in choices if d.name == found.value), None)
        if chosen is None:
            hint = f"您要找的是不是：{'、'.join(found.suggestions)}？" if found.suggestions else ""
            fail(f"没有报送事项「{deliverable}」。{hint}可选：{'、'.join(d.name for d in choices)}")
        partial = out.with_name(f".{out.name}.part")
        try:
            with partial.open("wb") as handle:
                count = write_zip(session, files, chosen, handle)
            partial.replace(out)
        finally:
            partial.unlink(missing_ok=True)
    typer.echo(f"已写入 {out}：「{chosen.name}」共 {count} 个文件。")
