"""What the `duban` commands share: the database, a failure in red, and the campaign and unit a command is for."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Annotated, NoReturn
from zoneinfo import ZoneInfo

import typer
from sqlalchemy.orm import Session, sessionmaker

from bot.settings import Settings, get_settings
from core.clock import SystemClock
from storage.db import make_engine, make_session_factory, upgrade_schema
from storage.models import Campaign, Unit
from storage.repos import Campaigns, Units


def session_factory(settings: Settings) -> sessionmaker[Session]:
    """Sessions on the configured database, its schema brought up to date first."""
    engine = make_engine(settings.database_url)
    upgrade_schema(engine)
    return make_session_factory(engine)


def fail(message: str) -> NoReturn:
    typer.secho(message, fg=typer.colors.RED, err=True)
    raise typer.Exit(1)


# Every command that acts on one campaign takes --campaign (cli.py, export_cli.py, import_cli.py, materials_cli.py).
CampaignOption = Annotated[
    str | None,
    typer.Option(
        "--campaign",
        help="哪一个专项整治（名称或简称）；不写时取环境变量 DUBAN_CAMPAIGN，只有一个在办的专项整治时就是它",
        metavar="名称或简称",
    ),
]


def _listing(campaigns: Sequence[Campaign]) -> str:
    return "".join(
        f"\n  {c.name}" + (f"（简称 {c.alias}）" if c.alias else "") + ("（已归档）" if c.archived else "")
        for c in campaigns
    )


def every_campaign(session: Session) -> Sequence[Campaign]:
    """Every campaign, archived ones too, oldest first."""
    return Campaigns(session).every()


def find_campaign(session: Session, name_or_alias: str) -> Campaign | None:
    """The campaign with this name, else this alias (archived ones too: their records stay)."""
    return Campaigns(session).current(name_or_alias) or Campaigns(session).by_alias(name_or_alias)


def choose_campaign(session: Session, wanted: str | None, configured: str | None) -> Campaign:
    """The campaign a command acts on: the one --campaign names (`wanted`, a name or an alias), else DUBAN_CAMPAIGN's
    (`configured`), else the only one served; otherwise a Chinese error that lists the choices (exit code 1)."""
    repo = Campaigns(session)
    if wanted:
        found = find_campaign(session, wanted.strip())
        if found is None:
            fail(f"没有名称或简称为「{wanted}」的专项整治。可选：{_listing(every_campaign(session))}")
        return found
    if configured:
        found = repo.current(configured)
        if found is None:
            fail(
                f"环境变量 DUBAN_CAMPAIGN 指定的专项整治「{configured}」不存在。现有："
                + _listing(every_campaign(session))
            )
        return found
    serving = repo.serving()
    if len(serving) == 1:
        return serving[0]
    if serving:
        fail(
            f"本系统有 {len(serving)} 个在办的专项整治，请用 --campaign 指定其中一个（名称或简称）：{_listing(serving)}"
        )
    every = every_campaign(session)
    if every:
        fail(
            "没有在办的专项整治（都已归档）。用 --campaign 指定一个，"
            f"或用 duban campaign unarchive 恢复：{_listing(every)}"
        )
    fail("还没有专项整治方案，请先 duban plan load 或 duban demo。")


def scope(session: Session, campaign_name: str | None, unit_name: str | None) -> tuple[Campaign, Unit | None]:
    """The campaign --campaign chooses (choose_campaign), and the unit named by --unit (None without it)."""
    campaign = choose_campaign(session, campaign_name, get_settings().campaign)
    if unit_name is None:
        return campaign, None
    unit = Units(session).find(campaign, unit_name)
    if unit is None:
        closest = Units(session).closest(campaign, unit_name)
        fail(
            f"「{campaign.name}」中未找到单位「{unit_name}」。"
            + (f"您要找的是不是：{'、'.join(closest)}？" if closest else "")
        )
    return campaign, unit


def campaign_today(campaign: Campaign) -> date:
    return SystemClock().now().astimezone(ZoneInfo(campaign.timezone)).date()
