"""The 帮助 menu: the commands a sender's role may use, each in its declared line and order."""

from __future__ import annotations

import re

from core.roles import ROLE_TITLES, Role
from handlers.commands import EVERYONE, Args, command, menu_commands
from handlers.context import Context
from handlers.message import Reply


def menu(role: Role, ctx: Context | None = None) -> str:
    lines = [f"您的身份：{ROLE_TITLES[role]}"]
    if ctx is not None and ctx.actor.contact is not None and role is Role.LIAISON:
        lines[0] += f"（{ctx.actor.contact.unit.name}）"
    lines.append("可用指令：")
    lines.extend(f"· {c.usage}" for c in menu_commands() if role in c.roles)
    if role is Role.STRANGER:
        lines.append("请先发送「登记」，按提示填写单位、姓名、职务、电话、邮箱。")
    if role is Role.PENDING:
        lines.append("您的登记正在等待牵头部门审核，通过后即可使用全部功能。")
    return "\n".join(lines)


_HOW = re.compile(r"怎么|怎样|如何|咋|请问|在哪|哪里|能不能|可不可以|可以.*吗|什么格式|格式是")


def how_to(role: Role, text: str) -> str | None:
    """The usage lines of the commands a question asks about (怎么报周报？ 请问怎么登记), for the sender's role; None
    when the message is no question or names no command they may use (the whole menu answers it then)."""
    if not _HOW.search(text):
        return None
    asked = [c for c in menu_commands() if role in c.roles and any(len(w) > 1 and w in text for w in c.words)]
    if not asked:
        return None
    return "\n".join(["用法：", *(f"· {c.usage}" for c in asked), "发送「帮助」查看全部指令。"])


@command("帮助", "菜单", "help", "?", roles=EVERYONE, order=99, writes=False, usage="帮助 — 查看可用指令")
def _help(ctx: Context, _args: Args) -> Reply:
    return Reply.of(menu(ctx.actor.role, ctx))
