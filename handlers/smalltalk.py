"""Greetings, thanks and acknowledgements: one short line and a hint, never the whole menu.

An acknowledgement (收到, 好的, 已阅, 👍, 收到，谢谢 …) from a liaison who was sent a notice and has not
acknowledged it records the receipt (handlers.broadcast) — in the middle of a dialog too, where the question
it waits on follows; with no notice outstanding it is only small talk.
"""

from __future__ import annotations

from core.roles import Role
from handlers.broadcast import acknowledge_notices
from handlers.context import Context
from handlers.parsing import ACKNOWLEDGEMENT, FAREWELL, GREETING, THANKS, acknowledges

_LINES = {GREETING: "您好！", THANKS: "不客气。", FAREWELL: "再见！", ACKNOWLEDGEMENT: "好的。"}


def _hint(ctx: Context) -> str:
    if ctx.actor.role is Role.STRANGER:
        return "发送「登记」成为本单位联络员，发送「帮助」查看可用指令。"
    return "需要办理什么请直接发送指令，发送「帮助」查看可用指令。"


def receipt(ctx: Context) -> str | None:
    """What an acknowledgement (收到, 已阅, 收到，明天报送 …) records: the sentence saying which notices the sender
    has now acknowledged, or None when none was outstanding or the message is no acknowledgement."""
    return acknowledge_notices(ctx) if acknowledges(ctx.message.text) else None


def small_talk_reply(ctx: Context, kind: str, *, pending: str | None = None) -> str:
    """One line for a greeting, thanks, acknowledgement or farewell (or the receipt it records); inside a
    dialog, the question it waits on instead of the hint."""
    recorded = receipt(ctx)
    if pending is not None:
        return f"{recorded or _LINES[kind]}{pending}"
    return recorded or _LINES[kind] + _hint(ctx)
