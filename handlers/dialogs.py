"""Guided dialogs as data: a list of fields, each with labels, a prompt and a check — and offers.

A command that needs several fields reads whatever fields the first message carries and then asks for the
missing required ones one at a time. A check may refuse a value (FieldError: the user is told why and
asked again) or want it confirmed first (Suggest: a 完成时限 after the campaign's end, 群众举报 for 信访举报,
a title that repeats an open issue). A confirmation is an *offer*: a question and the replies that settle
it, kept in the dialog state with the fields. The state lives in the database (DialogState), so a restart
in the middle of a dialog or of an offer continues where it stopped; `取消` leaves.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from handlers.context import Context
from handlers.message import Choice, Reply
from handlers.parsing import FieldsRead, Vocabulary, clipped
from storage.repos import Dialogs


class FieldError(ValueError):
    """A value that cannot be used; the message (Chinese) tells the user what to send instead."""


class Suggest(Exception):
    """A value the bot will use only once the user confirms it; `question` says what it understood."""

    def __init__(self, question: str, value: str, number: int | None = None) -> None:
        super().__init__(question)
        self.question, self.value, self.number = question, value, number


def words(text: str) -> tuple[str, ...]:
    """Label synonyms written as one string: words("联系电话 手机 手机号")."""
    return tuple(text.split())


@dataclass(frozen=True)
class Field:
    key: str
    label: str
    aliases: tuple[str, ...] = ()
    prompt: str | Callable[[Context], str] = ""
    required: bool = True
    check: Callable[[Context, str], str] | None = None  # the value to keep; raises FieldError or Suggest
    multiline: bool = False  # prose: other words with a colon inside it are text, not labels
    needed: Callable[[Context], bool] | None = None  # asked only when this says so (整治重点 of a campaign)

    def ask(self, ctx: Context) -> str:
        prompt = self.prompt(ctx) if callable(self.prompt) else self.prompt
        return prompt or f"请发送「{self.label}」。"

    def wanted(self, ctx: Context) -> bool:
        return self.required and (self.needed is None or self.needed(ctx))


@dataclass(frozen=True)
class DialogSpec:
    kind: str
    title: str
    fields: tuple[Field, ...]
    finish: Callable[[Context, dict[str, str]], Reply]
    # An update dialog starts from the record it changes (a registered liaison's 登记): `prefill` gives its
    # values, `review` shows them and asks what to change, `infer` places an unlabelled answer (a bare phone).
    prefill: Callable[[Context], dict[str, str]] | None = None
    review: Callable[[Context, dict[str, str]], str] | None = None
    infer: Callable[[str], dict[str, str]] | None = None

    @cached_property
    def vocabulary(self) -> Vocabulary:
        return Vocabulary.of((f.key, (f.label, *f.aliases), f.multiline) for f in self.fields)

    def field(self, key: str) -> Field:
        return next(f for f in self.fields if f.key == key)

    def labels(self) -> str:
        return "、".join(f.label for f in self.fields)


def at_most(limit: int) -> Callable[[Context, str], str]:
    """A field check: the value without edge spaces, refused (with its length) when longer than `limit`."""

    def check(_ctx: Context, raw: str) -> str:
        value = raw.strip()
        if len(value) > limit:
            raise FieldError(f"太长了（{len(value)}字），请控制在{limit}字以内。")
        return value

    return check


CANCEL_WORDS = frozenset({"取消", "退出", "算了", "不填了", "cancel"})
# Replies that accept an offer's suggestion; small-talk acknowledgements (好的, 嗯) count as a yes here.
CONFIRM_WORDS = (
    "确认",
    "确定",
    "是",
    "是的",
    "对",
    "对的",
    "没错",
    "好",
    "好的",
    "可以",
    "行",
    "嗯",
    "嗯嗯",
    "同意",
    "ok",
    "yes",
    "y",
)
CONTINUE, SWITCH = "继续", "切换"
STALE_CHOICE = "这个按钮对应的问题已经回答过或已取消，这次点击没有执行任何操作。发送「帮助」查看可用指令。"
ASKING, OFFER, WAITING = "_asking", "_offer", "_waiting"
ANY_FIELD = "*"  # an update dialog waiting for whichever field the user wants to change


def new_offer(question_: str, options: list[dict[str, Any]], **details: Any) -> dict[str, Any]:
    """An offer as kept in the dialog state; its id lets a button made for it refuse to settle a later one."""
    return {"id": secrets.token_hex(6), "question": question_, "options": options, **details}


def offer_reply(offer: Mapping[str, Any], *before: str) -> Reply:
    """The reply that asks an offer's question: its text, and a choice per option (its first word) and 取消."""
    choices = [Choice(option["words"][0], option["words"][0]) for option in offer["options"]]
    return Reply(
        Reply.of(*before, offer["question"]).texts, choices=(*choices, Choice("取消", "取消")), offer_id=offer.get("id")
    )


def offer_option(offer: Mapping[str, Any], text: str) -> int | None:
    """The index of the offer's option the reply picks, or None when the reply is something else."""
    word = text.strip().strip("。.!！").casefold()
    return next((i for i, option in enumerate(offer["options"]) if word in option["words"]), None)


def _confirm_words(number: int | None) -> list[str]:
    return [*CONFIRM_WORDS, *([str(number)] if number is not None else [])]


def values_of(state: Mapping[str, Any]) -> dict[str, str]:
    return {k: v for k, v in state.items() if not k.startswith("_")}


def _remaining(ctx: Context, spec: DialogSpec, values: Mapping[str, str]) -> list[Field]:
    return [f for f in spec.fields if f.wanted(ctx) and not values.get(f.key)]


def question(ctx: Context, spec: DialogSpec, state: Mapping[str, Any]) -> str:
    """What the dialog is waiting for, as asked: the offer's question, or the next field's prompt."""
    if state.get(OFFER):
        return str(state[OFFER]["question"])
    values = values_of(state)
    if state.get(ASKING) == ANY_FIELD and spec.review is not None:
        return spec.review(ctx, values)
    missing = _remaining(ctx, spec, values)
    if not missing:  # the campaign changed under the dialog (a field no longer asked): 继续 completes it
        return f"{spec.title}的内容已齐，回复「继续」完成。"
    return f"{missing[0].ask(ctx)}\n（{spec.title}：还差 {len(missing)} 项，发送「取消」可退出）"


def where(ctx: Context, spec: DialogSpec, state: Mapping[str, Any]) -> str:
    """`您正在登记问题（还差：线索来源、…）`: which entry is in progress, for replies that interrupt it."""
    missing = _remaining(ctx, spec, values_of(state))
    return f"您正在{spec.title}" + (f"（还差：{'、'.join(f.label for f in missing)}）" if missing else "")


@dataclass
class _Taken:
    notes: list[str]
    offer: dict[str, Any] | None = None
    waiting: dict[str, str] | None = None


def _take(
    ctx: Context,
    spec: DialogSpec,
    values: dict[str, str],
    given: Mapping[str, str],
    before: Mapping[str, str],
    taken: _Taken,
) -> None:
    """Check the given values into `values`; refusals and replacements become notes, a Suggest an offer."""
    for key, raw in given.items():
        field = spec.field(key)
        if taken.offer is not None:
            taken.waiting = {**(taken.waiting or {}), key: raw}  # checked once the offer is settled
            continue
        try:
            value = field.check(ctx, raw) if field.check else raw
        except FieldError as error:
            values.pop(key, None)
            taken.notes.append(f"「{field.label}」{error}")
            continue
        except Suggest as suggestion:
            values.pop(key, None)
            taken.offer = new_offer(
                suggestion.question,
                [{"words": _confirm_words(suggestion.number), "set": key, "value": suggestion.value}],
                key=key,
            )
            continue
        old = before.get(key)
        if old and old != value:
            taken.notes.append(f"「{field.label}」已由「{clipped(old, 20)}」改为「{clipped(value, 20)}」。")
        values[key] = value


def _advance(ctx: Context, spec: DialogSpec, values: dict[str, str], taken: _Taken) -> Reply:
    dialogs = Dialogs(ctx.session)
    where_ = (ctx.campaign, ctx.message.platform, ctx.message.user_id)
    if taken.offer is not None:
        state = {
            **values,
            ASKING: taken.offer["key"],
            OFFER: taken.offer,
            **({WAITING: taken.waiting} if taken.waiting else {}),
        }
        dialogs.save(*where_, kind=spec.kind, fields=state, now=ctx.now)
        return offer_reply(taken.offer, "\n".join(taken.notes))
    if not _remaining(ctx, spec, values):
        dialogs.clear(*where_)
        reply = spec.finish(ctx, values)
        return Reply.of("\n".join(taken.notes), *reply.texts) if taken.notes else reply
    state = {**values, ASKING: _remaining(ctx, spec, values)[0].key}
    dialogs.save(*where_, kind=spec.kind, fields=state, now=ctx.now)
    return Reply.of("\n".join(taken.notes), question(ctx, spec, state))


def _unknown_note(spec: DialogSpec, unknown: Sequence[str]) -> list[str]:
    if not unknown:
        return []
    named = "、".join(f"「{clipped(u, 10)}」" for u in dict.fromkeys(unknown))
    return [f"没有{named}这一项，已略过。{spec.title}可填写：{spec.labels()}。"]


def start(ctx: Context, spec: DialogSpec, read: FieldsRead) -> Reply:
    """Begin a dialog with whatever fields the first message carries; text before any label answers the
    first question (问题 执法证件未按期年检 gives the 线索名称)."""
    before = spec.prefill(ctx) if spec.prefill else {}
    values = dict(before)
    taken = _Taken(_unknown_note(spec, read.unknown))
    given = dict(read.values)
    if read.free:
        inferred = spec.infer(read.free) if spec.infer and before else {}
        first = _remaining(ctx, spec, {**values, **given})
        if inferred:
            given = {**inferred, **given}
        elif first:
            given.setdefault(first[0].key, read.free)
    if before and not given and spec.review is not None:
        state = {**values, ASKING: ANY_FIELD}
        Dialogs(ctx.session).save(
            ctx.campaign, ctx.message.platform, ctx.message.user_id, kind=spec.kind, fields=state, now=ctx.now
        )
        return Reply.of(*taken.notes, spec.review(ctx, values))
    _take(ctx, spec, values, given, before, taken)
    return _advance(ctx, spec, values, taken)


def resume(ctx: Context, spec: DialogSpec, state: Mapping[str, Any], read: FieldsRead) -> Reply:
    """Take the user's next message: labelled fields, or the answer to the question asked (already placed
    under the asked field by the reader)."""
    before = values_of(state)
    values = dict(before)
    taken = _Taken(_unknown_note(spec, read.unknown))
    given = dict(read.values)
    if state.get(ASKING) == ANY_FIELD and read.free:
        inferred = spec.infer(read.free) if spec.infer else {}
        if not inferred:
            taken.notes.append(f"请写明要修改哪一项，如「电话：13909550033」。可修改：{spec.labels()}。")
        given = {**inferred, **given}
    _take(ctx, spec, values, given, before, taken)
    # Fields that waited behind an offer the user answered with a new value instead of a yes.
    waiting = {k: v for k, v in (state.get(WAITING) or {}).items() if k not in given}
    _take(ctx, spec, values, waiting, before, taken)
    if state.get(ASKING) == ANY_FIELD and not given:
        return Reply.of(*taken.notes, spec.review(ctx, values) if spec.review else "")
    return _advance(ctx, spec, values, taken)


def settle(ctx: Context, spec: DialogSpec, state: Mapping[str, Any], option: Mapping[str, Any]) -> Reply:
    """Apply the offer option the user picked: keep the suggested value (no second check), then check the
    fields that waited behind the offer, and go on."""
    values = values_of(state)
    values[option["set"]] = option["value"]
    taken = _Taken([])
    _take(ctx, spec, values, dict(state.get(WAITING) or {}), {}, taken)
    return _advance(ctx, spec, values, taken)


def switch_offer(ctx: Context, spec: DialogSpec, state: Mapping[str, Any], text: str) -> Reply:
    """A command that would write something arrived while a dialog waits: ask before dropping either."""
    shown = clipped(text.replace("\n", " "), 24)
    asked = (
        f"{where(ctx, spec, state)}。回复「继续」接着{spec.title}；回复「切换」放弃{spec.title}，"
        f"改为执行「{shown}」；回复「取消」全部放弃。"
    )
    offer = new_offer(
        asked, [{"words": [CONTINUE], "resume": True}, {"words": [SWITCH], "run": text}], key=state.get(ASKING)
    )
    saved = {k: v for k, v in state.items() if k not in (OFFER, WAITING)}
    Dialogs(ctx.session).save(
        ctx.campaign,
        ctx.message.platform,
        ctx.message.user_id,
        kind=spec.kind,
        fields={**saved, OFFER: offer},
        now=ctx.now,
    )
    return offer_reply(offer, f"这条消息没有作为{spec.title}的内容。")


def resume_question(ctx: Context, spec: DialogSpec, state: Mapping[str, Any]) -> Reply:
    """Drop a pending offer and ask the dialog's question again (the user said 继续)."""
    if state.get(ASKING) == ANY_FIELD:
        return Reply.of(question(ctx, spec, state))
    return _advance(ctx, spec, values_of(state), _Taken([]))


OFFER_KIND = "offer"  # the dialog kind of an offer made outside any dialog


def offer_command(ctx: Context, question_: str, text: str) -> Reply:
    """Ask before running a corrected command (统计 作风 … → 统计 队伍建设 …): an offer outside any dialog,
    kept like one, whose yes runs `text`."""
    offer = new_offer(question_, [{"words": list(CONFIRM_WORDS), "run": text}])
    Dialogs(ctx.session).save(
        ctx.campaign, ctx.message.platform, ctx.message.user_id, kind=OFFER_KIND, fields={OFFER: offer}, now=ctx.now
    )
    return offer_reply(offer)
