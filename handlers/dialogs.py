"""Guided dialogs as data: a list of fields, each with labels, a prompt and a check.

A command that needs several fields reads whatever `字段：值` lines the first message carries and then
asks for the missing required ones one at a time. The state lives in the database (DialogState), so a
restart in the middle of a dialog continues where it stopped; `取消` leaves.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from handlers.context import Context
from handlers.message import Reply
from handlers.parsing import normalize, parse_fields
from storage.repos import Dialogs


class FieldError(ValueError):
    """A value that cannot be used; the message (Chinese) tells the user what to send instead."""


@dataclass(frozen=True)
class Field:
    key: str
    label: str
    aliases: tuple[str, ...] = ()
    prompt: str | Callable[[Context], str] = ""
    required: bool = True
    check: Callable[[Context, str], str] | None = None  # returns the value to keep, or raises FieldError

    def ask(self, ctx: Context) -> str:
        prompt = self.prompt(ctx) if callable(self.prompt) else self.prompt
        return prompt or f"请发送「{self.label}」。"


@dataclass(frozen=True)
class DialogSpec:
    kind: str
    title: str
    fields: tuple[Field, ...]
    finish: Callable[[Context, dict[str, str]], Reply]

    def aliases(self) -> dict[str, str]:
        table: dict[str, str] = {}
        for field in self.fields:
            for label in (field.label, *field.aliases):
                table[label] = field.key
        return table

    def field(self, key: str) -> Field:
        return next(f for f in self.fields if f.key == key)


def at_most(limit: int) -> Callable[[Context, str], str]:
    """A field check: the value without edge spaces, refused (with its length) when longer than `limit`."""

    def check(_ctx: Context, raw: str) -> str:
        value = raw.strip()
        if len(value) > limit:
            raise FieldError(f"太长了（{len(value)}字），请控制在{limit}字以内。")
        return value

    return check


CANCEL_WORDS = frozenset({"取消", "退出", "算了", "cancel"})
ASKING = "_asking"


def _accept(ctx: Context, spec: DialogSpec, values: dict[str, str], given: dict[str, str]) -> list[str]:
    """Check the given values into `values`; return the complaints about the rejected ones."""
    complaints: list[str] = []
    for key, raw in given.items():
        field = spec.field(key)
        try:
            values[key] = field.check(ctx, raw) if field.check else raw
        except FieldError as error:
            values.pop(key, None)
            complaints.append(f"「{field.label}」{error}")
    return complaints


def _next_missing(spec: DialogSpec, values: dict[str, str]) -> Field | None:
    return next((f for f in spec.fields if f.required and not values.get(f.key)), None)


def _advance(ctx: Context, spec: DialogSpec, values: dict[str, str], complaints: list[str]) -> Reply:
    missing = _next_missing(spec, values)
    dialogs = Dialogs(ctx.session)
    if missing is None:
        dialogs.clear(ctx.campaign, ctx.message.platform, ctx.message.user_id)
        reply = spec.finish(ctx, values)
        return Reply.of("\n".join(complaints), *reply.texts) if complaints else reply
    remaining = sum(1 for f in spec.fields if f.required and not values.get(f.key))
    dialogs.save(ctx.campaign, ctx.message.platform, ctx.message.user_id, kind=spec.kind,
                 fields={**values, ASKING: missing.key}, now=ctx.now)
    question = f"{missing.ask(ctx)}\n（{spec.title}：还差 {remaining} 项，发送「取消」可退出）"
    return Reply.of("\n".join(complaints), question)


def start(ctx: Context, spec: DialogSpec, text: str) -> Reply:
    """Begin a dialog with whatever fields the first message already carries."""
    given, _free = parse_fields(text, spec.aliases())
    values: dict[str, str] = {}
    complaints = _accept(ctx, spec, values, given)
    return _advance(ctx, spec, values, complaints)


def resume(ctx: Context, spec: DialogSpec, state_fields: dict[str, str], text: str) -> Reply:
    """Take the user's next message: several `字段：值` lines, or the answer to the question we asked."""
    values = {k: v for k, v in state_fields.items() if k != ASKING}
    asking = state_fields.get(ASKING)
    given, free = parse_fields(text, spec.aliases())
    if not given and asking:
        given = {asking: normalize(text)}
    elif free and asking and asking not in given:
        given[asking] = "\n".join(free)
    complaints = _accept(ctx, spec, values, given)
    return _advance(ctx, spec, values, complaints)
