"""The `duban` command line (SPEC §7): serve, demo, plan load/import, user add-coordinator, db upgrade."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated

import typer
from argon2 import PasswordHasher

from bot.export_cli import app as export_app
from bot.settings import Settings, get_settings
from handlers.clock import SystemClock
from handlers.plan import PlanError, load_plan, read_plan
from storage.db import make_engine, make_session_factory, transaction, upgrade_schema
from storage.models import Coordinator
from storage.repos import Audit, Campaigns, People

app = typer.Typer(help="督办 duban — 专项整治联络员机器人", no_args_is_help=True, add_completion=False)
plan_app = typer.Typer(help="专项整治方案（YAML）", no_args_is_help=True)
user_app = typer.Typer(help="用户管理", no_args_is_help=True)
db_app = typer.Typer(help="数据库", no_args_is_help=True)
remind_app = typer.Typer(help="提醒", no_args_is_help=True)
app.add_typer(plan_app, name="plan")
app.add_typer(user_app, name="user")
app.add_typer(db_app, name="db")
app.add_typer(remind_app, name="remind")
app.add_typer(export_app, name="export")


def _sessions(settings: Settings):  # type: ignore[no-untyped-def]
    engine = make_engine(settings.database_url)
    upgrade_schema(engine)
    return make_session_factory(engine)


def _fail(message: str) -> None:
    typer.secho(message, fg=typer.colors.RED, err=True)
    raise typer.Exit(1)


@app.command()
def serve(host: Annotated[str | None, typer.Option(help="listen address")] = None,
          port: Annotated[int | None, typer.Option(help="listen port")] = None) -> None:
    """Serve the bot: callbacks, the simulator and the dashboard."""
    import uvicorn

    from bot.app import create_app, freeze_startup_objects
    from bot.logs import configure_logging

    settings = get_settings()
    configure_logging(settings.log_level, settings.log_format)
    application = create_app(settings)
    freeze_startup_objects()
    # log_config=None: uvicorn keeps the logging set up above (its access log comes out in the same format).
    uvicorn.run(application, host=host or settings.host, port=port or settings.port,
                log_level=settings.log_level.lower(), proxy_headers=True, log_config=None)


@app.command()
def demo() -> None:
    """Load the demo campaign (dates shifted so that today is inside its 自查整改阶段)."""
    from bot.demo import DEMO_LOGIN, demo_login, load_demo

    settings = get_settings()
    with transaction(_sessions(settings)) as session:
        created = load_demo(session, now=SystemClock().now())
        password = demo_login(session)
    typer.echo("已加载演示专项整治。" if created else "演示专项整治已存在，已按最新方案更新。")
    typer.echo(f"协调人仪表盘：http://{settings.host}:{settings.port}/dashboard  登录名 {DEMO_LOGIN}  密码 {password}"
               "（每次运行 duban demo 都会换一个新密码）")


@plan_app.command("load")
def plan_load(file: Annotated[Path, typer.Argument(help="plan YAML (SPEC §8)")]) -> None:
    """Validate and load a campaign plan; loading it again is harmless."""
    try:
        resolved = read_plan(file)
    except PlanError as error:
        _fail(f"方案有误，未做任何修改：\n{error.render()}")
        return
    with transaction(_sessions(get_settings())) as session:
        result = load_plan(session, resolved, now=SystemClock().now())
    verb = "已创建" if result.created else ("已更新" if result.changes else "无变化")
    typer.echo(f"{verb}：{result.campaign.name}（{len(result.changes)} 处变更）")
    for warning in result.warnings:
        typer.secho(f"注意：{warning}", fg=typer.colors.YELLOW)


def plan_import(
    file: Annotated[Path, typer.Argument(help="the notice: .docx, .pdf, .ofd or text (UTF-8/GB18030); - for stdin")],
    year: Annotated[int | None, typer.Option(help="year of dates the notice writes without one")] = None,
) -> None:
    """Read an official notice (通知/方案) and print a commented YAML plan to check and load (SPEC §9)."""
    from handlers.notice import DocumentError, import_document, read_document
    from handlers.notice.writer import render_plan

    try:
        document = read_document(sys.stdin.buffer.read() if str(file) == "-" else file.read_bytes())
    except (OSError, DocumentError) as error:
        _fail(f"无法读取通知文件 {file}：{error}")
        return
    plan = import_document(document, year=year)
    typer.echo(render_plan(plan, source=file.name if str(file) != "-" else "标准输入"), nl=False)
    typer.secho(f"已识别：{len(plan.phases)} 个阶段、{len(plan.deliverables)} 个报送事项、{len(plan.tasks)} 项任务、"
                f"{len(plan.units)} 个单位；请核对后补全 TODO，再运行 duban plan load。", err=True)
    for shortfall in plan.shortfalls:
        typer.secho(f"注意：{shortfall.value}", fg=typer.colors.YELLOW, err=True)


plan_app.command("import")(plan_import)
plan_app.command("import-text", help="同 plan import（旧名称，保留兼容）。")(plan_import)


@user_app.command("add-coordinator")
def add_coordinator(
    name: Annotated[str, typer.Option(help="姓名")],
    login: Annotated[str, typer.Option(help="dashboard login name")],
    password: Annotated[str, typer.Option(prompt=True, hide_input=True, confirmation_prompt=True,
                                          help="dashboard password (prompted when omitted)")],
    wecom_userid: Annotated[str | None, typer.Option(help="WeCom userid, for chat commands")] = None,
    dingtalk_userid: Annotated[str | None, typer.Option(help="DingTalk staffId, for chat commands")] = None,
    phone: Annotated[str | None, typer.Option(help="mobile")] = None,
) -> None:
    """Create or update a coordinator of the current campaign, with a dashboard password."""
    if len(password) < 8:
        _fail("密码至少 8 位。")
    settings = get_settings()
    now = SystemClock().now()
    with transaction(_sessions(settings)) as session:
        campaign = Campaigns(session).current(settings.campaign)
        if campaign is None:
            _fail("还没有专项整治方案，请先 duban plan load 或 duban demo。")
            return
        coordinator = session.query(Coordinator).filter_by(campaign_id=campaign.id, name=name).first()
        if coordinator is None:
            coordinator = Coordinator(campaign_id=campaign.id, name=name, created_at=now)
            session.add(coordinator)
        coordinator.login, coordinator.phone = login, phone or coordinator.phone
        coordinator.password_hash = PasswordHasher().hash(password)
        session.flush()
        people = People(session)
        for platform, external_id in (("wecom", wecom_userid), ("dingtalk", dingtalk_userid)):
            if external_id:
                people.bind(campaign, platform, external_id, coordinator=coordinator, now=now)
        Audit(session).record(campaign=campaign, actor="cli", action="coordinator.upsert", at=now,
                              entity="coordinator", entity_id=coordinator.id, login=login)
    typer.echo(f"协调人 {name}（登录名 {login}）已保存。")


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply pending migrations (the server also does this on start)."""
    engine = make_engine(get_settings().database_url)
    upgrade_schema(engine)
    typer.echo("数据库已是最新版本。")


@db_app.command("copy")
def db_copy(
    source: Annotated[str, typer.Option("--from", help="source database URL, e.g. sqlite:///var/duban.db")],
    target: Annotated[str, typer.Option("--to", help="target database URL, e.g. postgresql://user:pw@host/duban")],
    force: Annotated[bool, typer.Option("--force", help="empty a target that already holds rows")] = False,
    batch_size: Annotated[int, typer.Option(min=1, help="rows per batch")] = 2000,
) -> None:
    """Copy every table to a freshly migrated database, then check each table's row count."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from storage.copy import CopyError, copy_database, normalize_url, shown

    class Bar:
        def __init__(self, progress: Progress) -> None:
            self.progress, self.task = progress, progress.add_task("准备", total=None)

        def start(self, totals: Mapping[str, int]) -> None:
            self.progress.update(self.task, total=sum(totals.values()), description="复制")

        def advance(self, table: str, rows: int) -> None:
            self.progress.update(self.task, advance=rows, description=table)

    typer.echo(f"源库：{shown(normalize_url(source))}\n目标库：{shown(normalize_url(target))}")
    columns = (TextColumn("{task.description:<20}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    try:
        with Progress(*columns, console=Console(stderr=True)) as progress:
            counts = copy_database(source, target, force=force, batch_size=batch_size, progress=Bar(progress))
    except CopyError as error:
        _fail(str(error))
        return
    for count in counts:
        mark = "一致" if count.matches else "不一致"
        typer.echo(f"{count.table:<20} 源库 {count.source:>9} 行  目标库 {count.target:>9} 行  {mark}")
    wrong = [count.table for count in counts if not count.matches]
    if wrong:
        _fail(f"行数核对不一致：{'、'.join(wrong)}。源库在复制期间可能仍有写入；请停止督办服务后加 --force 重新复制。")
    typer.echo(f"复制完成：{len(counts)} 张表、{sum(c.target for c in counts)} 行，行数核对一致。"
               "把 DUBAN_DATABASE_URL 改为目标库后重启服务即可。")


@remind_app.command("preview")
def remind_preview(
    start: Annotated[str, typer.Option("--from", help="from (2020-07-17 or '2020-07-17 09:00'), campaign time")],
    end: Annotated[str, typer.Option("--to", help="to, inclusive (a bare date means its whole day)")],
) -> None:
    """Print every reminder and nudge the plan would send between two moments, without sending anything."""
    from bot.app import route_for
    from scheduler.preview import parse_moment, preview, render

    settings = get_settings()
    with transaction(_sessions(settings)) as session:
        campaign = Campaigns(session).current(settings.campaign)
        if campaign is None:
            _fail("还没有专项整治方案，请先 duban plan load 或 duban demo。")
            return
        try:
            first, last = parse_moment(start, campaign, end=False), parse_moment(end, campaign, end=True)
        except ValueError as error:
            _fail(str(error))
            return
        if last < first:
            _fail("--to 不能早于 --from。")
        typer.echo(render(preview(session, campaign, route_for(settings), first, last), campaign))


def main() -> None:  # pragma: no cover - console entry for `python -m bot.cli`
    app(prog_name="duban")
    sys.exit(0)


if __name__ == "__main__":  # pragma: no cover
    main()
