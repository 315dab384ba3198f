"""`duban campaign list|archive|unarchive`: the campaigns one deployment holds, and which of them it serves.

An archived campaign is no longer served (no messages routed to it, no reminders, not in the dashboard) and its
records stay: `duban export … --campaign NAME` still writes its tables, and `unarchive` serves it again.
"""

from __future__ import annotations

from typing import Annotated

import typer
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.cli_support import every_campaign, fail, find_campaign, session_factory
from bot.cli_text import Typer
from bot.settings import get_settings
from core.clock import SystemClock
from core.statuses import ContactStatus
from storage.db import transaction
from storage.models import Contact, Coordinator, Issue, Unit
from storage.repos import Audit

app = Typer(help="专项整治：列出、归档、恢复（一个部署可以同时服务几个专项整治）", no_args_is_help=True)

NameArgument = Annotated[str, typer.Argument(help="专项整治的名称或简称", metavar="名称或简称")]


def _counts(session: Session, model: type[Unit | Contact | Coordinator | Issue], *where: object) -> dict[int, int]:
    """Rows of `model` per campaign."""
    rows = session.execute(
        select(model.campaign_id, func.count()).where(*where).group_by(model.campaign_id)  # type: ignore[arg-type]
    )
    return {campaign_id: count for campaign_id, count in rows}


@app.command("list", help="列出全部专项整治：名称、简称、上级、是否在办，以及单位、联络员、协调人、问题的数量。")
def listing() -> None:
    """Every campaign with its alias, parent, state and counts."""
    settings = get_settings()
    with transaction(session_factory(settings)) as session:
        campaigns = every_campaign(session)
        if not campaigns:
            typer.echo("还没有专项整治方案，请先 duban plan load 或 duban demo。")
            return
        names = {c.id: c.name for c in campaigns}
        units = _counts(session, Unit, Unit.retired.is_(False))
        liaisons = _counts(session, Contact, Contact.status == ContactStatus.ACTIVE)
        coordinators = _counts(session, Coordinator)
        issues = _counts(session, Issue)
        for campaign in campaigns:
            served = not campaign.archived and (settings.campaign is None or settings.campaign == campaign.name)
            state = "已归档" if campaign.archived else "在办" if served else "在办（本进程只服务 DUBAN_CAMPAIGN）"
            parent = names.get(campaign.parent_id) if campaign.parent_id is not None else None
            typer.echo(
                f"{campaign.name}\t简称 {campaign.alias or '—'}\t上级 {parent or '—'}\t{state}\t"
                f"{units.get(campaign.id, 0)} 个单位\t{liaisons.get(campaign.id, 0)} 位联络员\t"
                f"{coordinators.get(campaign.id, 0)} 位协调人\t{issues.get(campaign.id, 0)} 个问题"
            )


def _set_archived(name: str, archived: bool) -> None:
    now = SystemClock().now()
    with transaction(session_factory(get_settings())) as session:
        campaign = find_campaign(session, name.strip())
        if campaign is None:
            choices = "".join(
                f"\n  {c.name}" + (f"（简称 {c.alias}）" if c.alias else "") for c in every_campaign(session)
            )
            fail(f"没有名称或简称为「{name}」的专项整治。现有：{choices}")
        verb = "归档" if archived else "恢复"
        if campaign.archived == archived:
            typer.echo(f"「{campaign.name}」{'已经归档' if archived else '本来就在办'}，无需{verb}。")
            return
        campaign.archived = archived
        campaign.updated_at = now
        Audit(session).record(
            campaign=campaign,
            actor="cli",
            action="campaign.archive" if archived else "campaign.unarchive",
            at=now,
            entity="campaign",
            entity_id=campaign.id,
        )
        children = [c.name for c in every_campaign(session) if c.parent_id == campaign.id and not c.archived]
    if archived:
        typer.echo(
            f"已归档「{campaign.name}」：不再接收消息、不再提醒、网页中不再出现；数据保留，"
            f"可用 duban export … --campaign {campaign.alias or campaign.name} 导出，duban campaign unarchive 恢复。"
        )
        if children:
            typer.secho(f"注意：它的下级专项整治仍在办：{'、'.join(children)}。", fg=typer.colors.YELLOW)
    else:
        typer.echo(f"已恢复「{campaign.name}」：重新在办，接收消息和提醒，网页中可以查看。")


@app.command("archive", help="归档一个专项整治：不再服务（消息、提醒、网页），数据保留。")
def archive(name: NameArgument) -> None:
    """Stop serving a campaign; its records stay."""
    _set_archived(name, True)


@app.command("unarchive", help="恢复一个已归档的专项整治。")
def unarchive(name: NameArgument) -> None:
    """Serve an archived campaign again."""
    _set_archived(name, False)
