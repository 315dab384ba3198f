"""Greetings, thanks and acknowledgements: one short line and a hint, never the whole menu.

Every acknowledgement (收到, 好的, 已阅, 👍 …) goes through `acknowledge`, the one place that will record a
receipt when a liaison acknowledges a coordinator's notice.
"""

from __future__ import annotations

from handlers.context import Context
from handlers.parsing import ACKNOWLEDGEMENT, FAREWELL, GREETING, THANKS

_LINES = {GREETING: "您好！", THANKS: "不客气。", FAREWELL: "再见！", ACKNOWLEDGEMENT: "好的。"}


def _hint(ctx: Context) -> str:
    if ctx.actor.role == "stranger":
        return "发送「登记」成为本单位联络员，发送「帮助」查看可用指令。"
    return "需要办理什么请直接发送指令，发送「帮助」查看可用指令。"


def acknowledge(ctx: Context) -> str:
    """The answer to 收到 / 好的 / 已阅 / 👍 outside any dialog."""
    return _LINES[ACKNOWLEDGEMENT] + _hint(ctx)


def small_talk_reply(ctx: Context, kind: str, *, pending: str | None = None) -> str:
    """One line for a greeting, thanks, acknowledgement or farewell; inside a dialog, the question it waits
    on instead of the hint."""
    if pending is not None:
        return f"{_LINES[kind]}{pending}"
    if kind == ACKNOWLEDGEMENT:
        return acknowledge(ctx)
    return _LINES[kind] + _hint(ctx)
