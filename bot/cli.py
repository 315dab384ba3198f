"""The `duban` command line (README: 命令行): serve, demo, plan load/import, user, db upgrade and more."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from importlib.metadata import version
from pathlib import Path
from typing import Annotated

import typer
from argon2 import PasswordHasher

from bot.campaign_cli import app as campaign_app
from bot.cli_support import CampaignOption, choose_campaign, fail, session_factory
from bot.cli_text import Typer
from bot.export_cli import app as export_app
from bot.import_cli import app as import_app
from bot.materials_cli import app as materials_app
from bot.settings import get_settings
from core.channels import Platform
from core.clock import SystemClock
from plan.schema import PlanError, read_plan
from plan.sync import load_plan
from storage.db import make_engine, make_session_factory, transaction, upgrade_schema
from storage.models import Campaign, Coordinator
from storage.repos import Audit, DashboardSessions, People

app = Typer(help="督办 duban — 专项整治联络员机器人", no_args_is_help=True, add_completion=False)
plan_app = Typer(help="专项整治方案（YAML）", no_args_is_help=True)
user_app = Typer(help="用户管理", no_args_is_help=True)
db_app = Typer(help="数据库", no_args_is_help=True)
remind_app = Typer(help="提醒", no_args_is_help=True)
app.add_typer(plan_app, name="plan")
app.add_typer(campaign_app, name="campaign")
app.add_typer(user_app, name="user")
app.add_typer(db_app, name="db")
app.add_typer(remind_app, name="remind")
app.add_typer(export_app, name="export")
app.add_typer(import_app, name="import")
app.add_typer(materials_app, name="materials")


def _version(shown: bool) -> None:
    if shown:
        typer.echo(f"督办 duban {version('duban')}")
        raise typer.Exit()


@app.callback()
def _options(
    _version: Annotated[
        bool, typer.Option("--version", "-V", help="显示版本号并退出。", callback=_version, is_eager=True)
    ] = False,
) -> None:
    """Options of `duban` itself (--version)."""


@app.command(help="启动服务：企业微信和钉钉回调、模拟器、协调人网页。")
def serve(
    host: Annotated[str | None, typer.Option(help="监听地址（默认取 DUBAN_HOST）")] = None,
    port: Annotated[int | None, typer.Option(help="监听端口（默认取 DUBAN_PORT）")] = None,
) -> None:
    """Serve the bot: callbacks, the simulator and the dashboard."""
    import uvicorn

    from bot.app import create_app, freeze_startup_objects
    from bot.logs import configure_logging

    settings = get_settings()
    configure_logging(settings.log_level, settings.log_format)
    application = create_app(settings)
    freeze_startup_objects()
    # log_config=None: uvicorn keeps the logging set up above (its access log comes out in the same format).
    # X-Forwarded-For is believed only from the proxy, and uvicorn then takes the nearest hop it did not write.
    # Idle connections stay open longer than the proxy keeps them (DUBAN_HTTP_KEEP_ALIVE), so the proxy closes first.
    uvicorn.run(
        application,
        host=host or settings.host,
        port=port if port is not None else settings.port,
        log_level=settings.log_level.lower(),
        proxy_headers=True,
        forwarded_allow_ips=settings.forwarded_allow_ips,
        timeout_keep_alive=settings.http_keep_alive,
        log_config=None,
    )


@app.command(help="加载演示专项整治（日期平移到今天正处在自查整改阶段）。")
def demo() -> None:
    """Load the demo campaign (dates shifted so that today is inside its 自查整改阶段)."""
    from bot.demo import DEMO_LOGIN, demo_login, load_demo

    settings = get_settings()
    with transaction(session_factory(settings)) as session:
        created = load_demo(session, now=SystemClock().now())
        password = demo_login(session)
    typer.echo("已加载演示专项整治。" if created else "演示专项整治已存在，已按最新方案更新。")
    typer.echo(
        f"协调人仪表盘：http://{settings.host}:{settings.port}/dashboard  登录名 {DEMO_LOGIN}  密码 {password}"
        "（每次运行 duban demo 都会换一个新密码）"
    )


@plan_app.command("load", help="校验并加载专项整治方案；重复加载不会有变化，有错误时整份拒绝。")
def plan_load(file: Annotated[Path, typer.Argument(help="方案 YAML 文件", metavar="文件")]) -> None:
    """Validate and load a campaign plan; loading it again is harmless."""
    try:
        resolved = read_plan(file)
    except PlanError as error:
        fail(f"方案有误，未做任何修改：\n{error.render()}")
        return
    with transaction(session_factory(get_settings())) as session:
        result = load_plan(session, resolved, now=SystemClock().now())
    verb = "已创建" if result.created else ("已更新" if result.changes else "无变化")
    typer.echo(f"{verb}：{result.campaign.name}（{len(result.changes)} 处变更）")
    for warning in result.warnings:
        typer.secho(f"注意：{warning}", fg=typer.colors.YELLOW)


def plan_import(
    file: Annotated[
        Path, typer.Argument(help="通知文件（.docx、.pdf、.ofd 或纯文本）；- 表示标准输入", metavar="文件")
    ],
    year: Annotated[int | None, typer.Option(help="通知中不带年份的日期属于哪一年")] = None,
) -> None:
    """Read an official notice (通知/方案) and print a commented YAML plan to check and load (docs/plan-format.md)."""
    from notice import DocumentError, import_document, read_document
    from notice.writer import render_plan

    try:
        document = read_document(sys.stdin.buffer.read() if str(file) == "-" else file.read_bytes())
    except (OSError, DocumentError) as error:
        fail(f"无法读取通知文件 {file}：{error}")
        return
    plan = import_document(document, year=year)
    typer.echo(render_plan(plan, source=file.name if str(file) != "-" else "标准输入"), nl=False)
    typer.secho(
        f"已识别：{len(plan.phases)} 个阶段、{len(plan.deliverables)} 个报送事项、{len(plan.tasks)} 项任务、"
        f"{len(plan.units)} 个单位；请核对后补全 TODO，再运行 duban plan load。",
        err=True,
    )
    for shortfall in plan.shortfalls:
        typer.secho(f"注意：{shortfall.value}", fg=typer.colors.YELLOW, err=True)


PLAN_IMPORT_HELP = "读取正式通知（.docx、.pdf、.ofd 或纯文本），输出带注释的 YAML 方案，核对补全后再加载。"
plan_app.command("import", help=PLAN_IMPORT_HELP)(plan_import)
plan_app.command("import-text", help="同 plan import（旧名称，保留兼容）。")(plan_import)


@user_app.command(
    "add-coordinator", help="新增或更新一个专项整治的协调人，并设置网页后台密码（登录名只属于这一个专项整治）。"
)
def add_coordinator(
    name: Annotated[str, typer.Option(help="姓名")],
    login: Annotated[str, typer.Option(help="网页后台登录名")],
    password: Annotated[
        str,
        typer.Option(
            prompt="密码", hide_input=True, confirmation_prompt="再输入一次密码", help="网页后台密码（不写则提示输入）"
        ),
    ],
    wecom_userid: Annotated[str | None, typer.Option(help="企业微信 userid（在聊天中使用协调人指令）")] = None,
    dingtalk_userid: Annotated[str | None, typer.Option(help="钉钉 staffId（在聊天中使用协调人指令）")] = None,
    phone: Annotated[str | None, typer.Option(help="手机号")] = None,
    campaign_name: CampaignOption = None,
) -> None:
    """Create or update a coordinator of one campaign, with a dashboard password (a login belongs to one campaign)."""
    if len(password) < 8:
        fail("密码至少 8 位。")
    settings = get_settings()
    now = SystemClock().now()
    with transaction(session_factory(settings)) as session:
        campaign = choose_campaign(session, campaign_name, settings.campaign)
        holder = session.query(Coordinator).filter_by(login=login).first()
        if holder is not None and (holder.campaign_id != campaign.id or holder.name != name):
            elsewhere = session.get(Campaign, holder.campaign_id)
            fail(
                f"登录名「{login}」已属于「{elsewhere.name if elsewhere else ''}」的协调人{holder.name}；"
                "一个登录名只属于一个专项整治中的一位协调人。请换一个登录名；"
                "同一人协调几个专项整治时，也可以用企业微信或钉钉登录，在网页顶部切换。"
            )
        coordinator = session.query(Coordinator).filter_by(campaign_id=campaign.id, name=name).first()
        if coordinator is None:
            coordinator = Coordinator(campaign_id=campaign.id, name=name, created_at=now)
            session.add(coordinator)
        coordinator.login, coordinator.phone = login, phone or coordinator.phone
        coordinator.password_hash = PasswordHasher().hash(password)
        session.flush()
        ended = DashboardSessions(session).end_all([coordinator.id])  # a new password: sign in again everywhere
        people = People(session)
        for platform, external_id in ((Platform.WECOM, wecom_userid), (Platform.DINGTALK, dingtalk_userid)):
            if external_id:
                people.bind(campaign, platform, external_id, coordinator=coordinator, now=now)
        Audit(session).record(
            campaign=campaign,
            actor="cli",
            action="coordinator.upsert",
            at=now,
            entity="coordinator",
            entity_id=coordinator.id,
            login=login,
        )
    typer.echo(
        f"「{campaign.name}」的协调人 {name}（登录名 {login}）已保存。"
        + (f"已结束其 {ended} 个看板登录会话。" if ended else "")
    )


@user_app.command("sessions", help="列出未结束的网页后台登录会话；加 --revoke 结束全部（或 --login 指定的）会话。")
def usersession_factory(
    login: Annotated[str | None, typer.Option(help="只看这位协调人的会话（网页后台登录名）")] = None,
    revoke: Annotated[bool, typer.Option("--revoke", help="结束这些会话：相关协调人需要重新登录")] = False,
) -> None:
    """List the dashboard sessions still open, or end them (all, or one coordinator's) with --revoke."""
    now = SystemClock().now()
    with transaction(session_factory(get_settings())) as session:
        sessions = DashboardSessions(session)
        current = [
            s
            for s in sessions.current(now)
            if login is None or (s.coordinator is not None and s.coordinator.login == login)
        ]
        if revoke:
            ended = sessions.end_all(None if login is None else {s.coordinator_id for s in current if s.coordinator_id})
            Audit(session).record(
                campaign=None, actor="cli", action="sessions.revoke", at=now, login=login, ended=ended
            )
            typer.echo(f"已结束 {ended} 个看板登录会话，相关协调人需要重新登录。")
            return
    if not current:
        typer.echo("没有未结束的看板登录会话。")
    for item in current:
        who = item.coordinator or item.contact
        assert who is not None  # a session belongs to a coordinator or to a liaison
        how = f"{item.platform}:{item.external_id}" if item.platform else (item.coordinator and item.coordinator.login)
        typer.echo(
            f"{how or '（已无登录名）'}\t{who.name}{'' if item.coordinator else '（联络员）'}\t"
            f"登录于 {item.created_at.astimezone():%Y-%m-%d %H:%M}\t"
            f"到期 {item.expires_at.astimezone():%Y-%m-%d %H:%M}\t来自 {item.address or '未知'}"
        )


@db_app.command("upgrade", help="升级数据库结构（启动服务时也会自动升级）。")
def db_upgrade() -> None:
    """Apply pending migrations (the server also does this on start)."""
    engine = make_engine(get_settings().database_url)
    upgrade_schema(engine)
    typer.echo("数据库已是最新版本。")


@db_app.command("copy", help="把所有表复制到新建好结构的数据库，再逐表核对行数。")
def db_copy(
    source: Annotated[str, typer.Option("--from", help="源库地址，如 sqlite:///var/duban.db")],
    target: Annotated[str, typer.Option("--to", help="目标库地址，如 postgresql://用户:密码@主机/duban")],
    force: Annotated[bool, typer.Option("--force", help="目标库已有数据时先清空")] = False,
    batch_size: Annotated[int, typer.Option(min=1, help="每批复制的行数")] = 2000,
    files_dir: Annotated[
        Path | None,
        typer.Option(
            "--files-dir",
            help="源部署存放聊天中收到的文件的本地目录（默认在 var 目录下）：其中的文件一并写入目标库",
        ),
    ] = None,
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
        fail(str(error))
        return
    if files_dir is not None:
        from storage.files import import_local_files

        engine = make_engine(normalize_url(target).render_as_string(hide_password=False))
        with transaction(make_session_factory(engine)) as session:
            moved = import_local_files(session, files_dir)
        typer.echo(f"本地文件：{moved} 个文件已写入目标库（之后请设置 DUBAN_FILE_STORE=database）。")
    for count in counts:
        mark = "一致" if count.matches else "不一致"
        typer.echo(f"{count.table:<20} 源库 {count.source:>9} 行  目标库 {count.target:>9} 行  {mark}")
    wrong = [count.table for count in counts if not count.matches]
    if wrong:
        fail(f"行数核对不一致：{'、'.join(wrong)}。源库在复制期间可能仍有写入；请停止督办服务后加 --force 重新复制。")
    typer.echo(
        f"复制完成：{len(counts)} 张表、{sum(c.target for c in counts)} 行，行数核对一致。"
        "把 DUBAN_DATABASE_URL 改为目标库后重启服务即可。"
    )


@remind_app.command("preview", help="列出两个时刻之间将发出的每一条提醒，不发送。")
def remind_preview(
    start: Annotated[str, typer.Option("--from", help="起始时间（2020-07-17 或 '2020-07-17 09:00'，方案时区）")],
    end: Annotated[str, typer.Option("--to", help="结束时间（含；只写日期表示到当天结束）")],
    campaign_name: CampaignOption = None,
) -> None:
    """Print every reminder and nudge the plan would send between two moments, without sending anything."""
    from bot.services import dashboard_link_for, route_for
    from scheduler.preview import parse_moment, preview, render

    settings = get_settings()
    with transaction(session_factory(settings)) as session:
        campaign = choose_campaign(session, campaign_name, settings.campaign)
        try:
            first, last = parse_moment(start, campaign, end=False), parse_moment(end, campaign, end=True)
        except ValueError as error:
            fail(str(error))
            return
        if last < first:
            fail("--to 不能早于 --from。")
        items = preview(session, campaign, route_for(settings), first, last, dashboard_link_for(settings))
        typer.echo(render(items, campaign))


def main() -> None:  # pragma: no cover - console entry for `python -m bot.cli`
    app(prog_name="duban")
    sys.exit(0)


if __name__ == "__main__":  # pragma: no cover
    main()
