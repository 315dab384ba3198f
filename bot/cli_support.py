"""What the `duban` commands share: the database, a failure in red, and the campaign and unit a command is for."""

from __future__ import annotations

from datetime import date
from typing import NoReturn
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


def scope(session: Session, unit_name: str | None) -> tuple[Campaign, Unit | None]:
    """The current campaign, and the unit named by --unit (None when the option is not given)."""
    campaign = Campaigns(session).current(get_settings().campaign)
    if campaign is None:
        fail("还没有专项整治方案，请先 duban plan load 或 duban demo。")
    if unit_name is None:
        return campaign, None
    unit = Units(session).find(campaign, unit_name)
    if unit is None:
        closest = Units(session).closest(campaign, unit_name)
        fail(f"未找到单位「{unit_name}」。" + (f"您要找的是不是：{'、'.join(closest)}？" if closest else ""))
    return campaign, unit


def campaign_today(campaign: Campaign) -> date:
    return SystemClock().now().astimezone(ZoneInfo(campaign.timezone)).date()
