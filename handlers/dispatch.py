"""One dispatcher from an IncomingMessage to a Reply: dedupe, identity, dialogs, commands, audit.

A command is a keyword plus the roles allowed to use it plus a callback; the first (longest) keyword
that matches wins. Every message gets a reply; an unrecognised one gets a hint and the role's menu.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from handlers import coordination, issues, registration, reports, tasks
from handlers.context import Context, Route, route_to_simulator
from handlers.dialogs import CANCEL_WORDS, DialogSpec, resume
from handlers.message import IncomingMessage, Reply
from handlers.parsing import normalize
from storage.db import transaction
from storage.repos import Campaigns, Dialogs, People, Processed

log = logging.getLogger("duban.handlers")

LIAISON = frozenset({"liaison"})
COORDINATOR = frozenset({"coordinator"})
EVERYONE = frozenset({"liaison", "coordinator", "pending", "stranger"})


@dataclass(frozen=True)
class Command:
    keywords: tuple[str, ...]
    roles: frozenset[str]
    run: Callable[[Context, str], Reply]
    usage: str  # one line of the 帮助 menu


def _help(ctx: Context, _rest: str) -> Reply:
    return Reply.of(menu(ctx.actor.role, ctx))


COMMANDS: tuple[Command, ...] = (
    Command(("帮助", "菜单", "help", "?"), EVERYONE, _help, "帮助 — 查看可用指令"),
    Command(("登记", "注册"), EVERYONE, registration.register,
            "登记 — 登记或更新联络员信息（单位/姓名/职务/电话/邮箱）"),
    Command(("批准", "通过"), COORDINATOR, registration.approve, "批准 <登记号> — 通过联络员登记"),
    Command(("驳回", "拒绝"), COORDINATOR, registration.reject, "驳回 <登记号> [理由] — 驳回联络员登记"),
    Command(("我的问题", "本单位问题"), LIAISON, issues.my_issues, "我的问题 — 本单位未销号的问题"),
    Command(("问题", "新问题", "登记问题"), LIAISON, issues.log_issue,
            "问题 — 登记问题线索（可一次写全各字段，或按提示逐项填写）"),
    Command(("进展", "整改进展"), LIAISON, issues.report_progress,
            "进展 <编号> <状态或百分比> [说明] — 如：进展 #12 60% 已完成证件审验；进展 12 已整改"),
    Command(("周报",), LIAISON, reports.weekly_report, "周报 <内容> — 报送本周工作信息（重发会替换）"),
    Command(("统计",), LIAISON, reports.report_stats, "统计 <整治重点> 处理<n>人 处分<n>人 — 附件3 人数"),
    Command(("未报送",), COORDINATOR, coordination.missing, "未报送 — 本周周报和各报送事项的缺报单位"),
    Command(("报送",), LIAISON, reports.submit_deliverable, "报送 <事项名> — 登记已报送的材料"),
    Command(("汇总", "进度", "情况"), frozenset({"liaison", "coordinator"}), coordination.summary,
            "汇总 [单位] — 专项整治情况汇总"),
    Command(("逾期",), COORDINATOR, coordination.overdue, "逾期 — 各单位逾期未整改的问题"),
    Command(("我的任务", "本单位任务"), LIAISON, tasks.my_tasks, "我的任务 — 本单位承担的任务分工"),
    Command(("任务",), frozenset({"liaison", "coordinator"}), tasks.task_command,
            "任务 <编号> [进展 <说明> | 完成] — 查看任务、报告进展或完成"),
    Command(("图表",), COORDINATOR, coordination.chart, "图表 — 各单位整改率与目标对比图"),
)
_BY_KEYWORD = sorted(((k, c) for c in COMMANDS for k in c.keywords), key=lambda kc: -len(kc[0]))
_BRACKETED_KEYWORD = re.compile(r"^\[([^\]\n]{1,6})\]\s*")
_SEPARATORS = (" ", "\n", ":", "#", ",", "，", "、")

ROLE_TITLES = {"liaison": "联络员", "coordinator": "牵头部门协调人", "pending": "待审核联络员",
               "stranger": "未登记用户"}


def menu(role: str, ctx: Context | None = None) -> str:
    lines = [f"您的身份：{ROLE_TITLES[role]}"]
    if ctx is not None and ctx.actor.contact is not None and role == "liaison":
        lines[0] += f"（{ctx.actor.contact.unit.name}）"
    lines.append("可用指令：")
    lines.extend(f"· {c.usage}" for c in COMMANDS if role in c.roles)
    if role == "stranger":
        lines.append("请先发送「登记」，按提示填写单位、姓名、职务、电话、邮箱。")
    if role == "pending":
        lines.append("您的登记正在等待牵头部门审核，通过后即可使用全部功能。")
    return "\n".join(lines)


def match_command(text: str) -> tuple[Command | None, str]:
    """The command the text starts with (keyword followed by a separator or the end) and the rest."""
    text = _BRACKETED_KEYWORD.sub(r"\1 ", text, count=1)  # 【登记】… reads as 登记 …
    lowered = text.lower()
    for keyword, command in _BY_KEYWORD:
        if lowered.startswith(keyword.lower()):
            rest = text[len(keyword):]
            if not rest or rest.startswith(_SEPARATORS) or rest[0] in "0123456789":
                return command, rest.lstrip(" :,，、\n") if not rest.startswith("#") else rest
    return None, text


def _denied(ctx: Context, command: Command) -> Reply:
    role = ctx.actor.role
    ctx.audit("denied", command=command.keywords[0], role=role)
    if role == "stranger":
        return Reply.of("您还未登记为联络员，请先发送「登记」。\n" + menu(role))
    if role == "pending":
        contact = ctx.actor.contact
        number = f"（登记号 {contact.id}）" if contact else ""
        return Reply.of(f"您的登记{number}正在等待牵头部门审核，审核通过后才能使用「{command.keywords[0]}」。")
    if command.roles == COORDINATOR:
        return Reply.of(f"「{command.keywords[0]}」仅限牵头部门协调人使用。\n" + menu(role, ctx))
    return Reply.of(f"「{command.keywords[0]}」供各单位联络员使用。\n" + menu(role, ctx))


def dialog_spec(ctx: Context, kind: str) -> DialogSpec | None:
    specs = {"register": registration.REGISTER, "issue": issues.issue_dialog(ctx), "weekly": reports.WEEKLY}
    return specs.get(kind)


def route_message(ctx: Context) -> Reply:
    """Pick the dialog step or command for a message and run it (inside the caller's transaction)."""
    text = normalize(ctx.message.text)
    dialogs = Dialogs(ctx.session)
    state = dialogs.get(ctx.campaign, ctx.message.platform, ctx.message.user_id)
    if state is not None:
        spec = dialog_spec(ctx, state.kind)
        if text.lower() in CANCEL_WORDS or spec is None:
            dialogs.clear(ctx.campaign, ctx.message.platform, ctx.message.user_id)
            return Reply.of(f"已取消{spec.title if spec else ''}。发送「帮助」查看可用指令。")
        if text in ("帮助", "help", "?"):
            return Reply.of(f"您正在{spec.title}，请按上一条提示回复；发送「取消」可退出。")
        return resume(ctx, spec, dict(state.fields), text)
    if not text:
        return Reply.of("请发送文字消息。\n" + menu(ctx.actor.role, ctx))
    if text.lower() in CANCEL_WORDS:
        return Reply.of("当前没有需要取消的操作。发送「帮助」查看可用指令。")
    command, rest = match_command(text)
    if command is None:
        return Reply.of("没有看懂这条消息。\n" + menu(ctx.actor.role, ctx))
    if ctx.actor.role not in command.roles:
        return _denied(ctx, command)
    return command.run(ctx, rest)


class Dispatcher:
    """Turns each incoming message into exactly one reply and at most one set of effects."""

    def __init__(self, sessions: sessionmaker[Session], *, route: Route = route_to_simulator,
                 campaign_name: str | None = None) -> None:
        self.sessions = sessions
        self.route = route
        self.campaign_name = campaign_name

    def handle(self, message: IncomingMessage) -> Reply:
        """Process a message once. A redelivered message id gets the stored replies and no new effects.

        Database outages propagate (channels answer 503 so the platform retries); any other error rolls
        the whole message back and the user gets an apology instead of a stack trace.
        """
        for attempt in (1, 2):
            try:
                return self._handle_once(message)
            except IntegrityError:
                # A concurrent writer won a race on a unique rule (the same message id delivered twice, two
                # liaisons of one unit sending this week's report): run once more against what it wrote.
                if attempt == 2:
                    raise
            except SQLAlchemyError:
                raise
            except Exception:
                log.exception("handler failed", extra={"platform": message.platform})
                return Reply.of("抱歉，处理这条消息时出错了，请稍后重试；如多次出现请联系牵头部门。")
        raise AssertionError("unreachable")

    def _handle_once(self, message: IncomingMessage) -> Reply:
        with transaction(self.sessions) as session:
            processed = Processed(session)
            record = None
            if message.message_id is not None:
                record = processed.claim(message.origin, message.user_id, message.message_id, message.received_at)
                if record is None:
                    stored = processed.replies(message.origin, message.user_id, message.message_id)
                    return Reply(tuple(stored or ()), duplicate=True)
            campaign = Campaigns(session).current(self.campaign_name)
            if campaign is None:
                reply = Reply.of("督办尚未加载专项整治方案，请联系管理员（duban plan load 方案.yaml）。")
            else:
                actor = People(session).actor(campaign, message.platform, message.user_id)
                ctx = Context(session=session, campaign=campaign, message=message, actor=actor, route=self.route)
                reply = route_message(ctx)
                if not reply.texts:
                    reply = Reply.of("已收到。")
            if record is not None:
                processed.settle(record, reply.texts)
            return reply
