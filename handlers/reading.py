"""Every message is read here, once, the same way, against the commands the handler modules declare.

`read_message` turns a message (and the dialog it arrives in, if any, and the sender's role) into a
`Reading`: which command or kind of reply it is, and its arguments. It knows nothing of the database, so
the chat corpus checks it directly and bench/parse.py times it.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

# The modules that declare the chat's commands (@command); reading them registers every command.
from handlers import (  # noqa: F401
    broadcast,
    coordination,
    issues,
    materials,
    menu,
    registration,
    reports,
    tasks,
    weekly_reading,
)
from handlers.commands import COMMANDS, Args, Command, fields_args
from handlers.dialogs import ASKING, CANCEL_WORDS, CONTINUE, OFFER, offer_option
from handlers.parsing import (
    normalize,
    read_bare_reference,
    read_fields,
    read_issue_reference,
    read_task_reference,
    small_talk,
)


class _Index:
    """Command words longest first (so that 我的问题 wins over 问题, 未报送 over 报送), each with the commands it
    starts in 帮助 menu order, and dialogs by kind."""

    def __init__(self, commands: list[Command]) -> None:
        self.menu = sorted(commands, key=lambda c: c.order)
        by_word: dict[str, list[Command]] = {}
        for found in self.menu:
            for word in found.words:
                by_word.setdefault(word.casefold(), []).append(found)
        self.words = sorted(((w, tuple(c)) for w, c in by_word.items()), key=lambda wc: -len(wc[0]))
        self.dialogs = {c.dialog.kind: c for c in commands if c.dialog is not None}
        self.by_name = {c.name: c for c in commands}
        self.phrases = [(c, c.phrase) for c in self.menu if c.phrase is not None]


@functools.cache
def _index() -> _Index:
    return _Index(COMMANDS)


_BRACKETED_WORD = re.compile(r"^\[([^\]\n]{1,6})\]\s*")
# What may follow a command word: a separator, or the start of a number (进展12, 进展#12, 进展第12条).
_FOLLOWERS = (" ", "\n", ":", ";", "#", ",", "，", "、", "第")


def match_command(text: str, role: str | None = None) -> tuple[Command | None, str]:
    """The command the text starts with (its word followed by a separator, a number or the end) and the
    rest of the text. Of the commands a word starts, the one for the sender's role; for a sender none of them
    serves, the first in the menu (whose refusal tells them why)."""
    text = _BRACKETED_WORD.sub(r"\1 ", text, count=1)  # 【登记】… reads as 登记 …
    lowered = text.casefold()
    for word, candidates in _index().words:
        if lowered.startswith(word):
            rest = text[len(word) :]
            if not rest or rest.startswith(_FOLLOWERS) or rest[0].isdigit():
                found = next((c for c in candidates if role in c.roles), candidates[0])
                return found, rest if rest.startswith(("#", "第")) or rest[:1].isdigit() else rest.lstrip(" :;,，、\n")
    return None, text


def _phrase(text: str, role: str | None) -> Reading | None:
    """A command written as a phrase without its word (法制科上周周报), read for the sender's role only."""
    for found, phrase in _index().phrases:
        if role in found.roles:
            args = phrase(text)
            if args is not None:
                return Reading(found.name, args, found)
    return None


def command_named(name: str) -> Command:
    return _index().by_name[name]


def dialog_command(kind: str) -> Command | None:
    return _index().dialogs.get(kind)


# Readings that are not commands.
ANSWER = "回答"  # the answer to the question a dialog asked
CHOICE = "选择"  # a reply that settles an offer (确认, 1, 继续, 切换)
SMALL_TALK = "寒暄"
CANCEL = "取消"
RESUME = "继续"  # 继续 inside a dialog with no offer: ask the question again
EMPTY = "空"
UNKNOWN = "未识别"


@dataclass(frozen=True)
class Reading:
    """What a message is: a command with its arguments, or one of the readings above."""

    kind: str  # a command's first word (进展, 登记 …) or ANSWER, CHOICE, …
    args: Args = field(default_factory=dict)
    command: Command | None = field(default=None, compare=False)


def _implicit(text: str) -> Reading | None:
    """A command written without its word: a natural reference (15号问题已整改, 12号任务已完成)."""
    number = read_bare_reference(text)
    if number is not None:
        return Reading("查看", {"number": number}, command_named("查看"))
    progress = read_issue_reference(text)
    if progress is not None:
        return Reading("进展", progress.args(), command_named("进展"))
    task = read_task_reference(text)
    if task is not None:
        number, rest = task
        tasks = command_named("任务")
        return Reading("任务", tasks.read(f"{number} {rest}"), tasks)
    return None


def _form(text: str) -> Reading | None:
    """A form pasted without its command word: two or more labels of exactly one dialog (登记 or 问题)."""
    matches = []
    for found in _index().dialogs.values():
        assert found.dialog is not None
        fields = read_fields(text, found.dialog.vocabulary)
        if len(fields.values) >= 2 and not fields.free:
            matches.append(Reading(found.name, found.read(text), found))
    return matches[0] if len(matches) == 1 else None


def read_message(
    text: str, *, dialog: str | None = None, state: Mapping[str, Any] | None = None, role: str | None = None
) -> Reading:
    """Read a message from a sender of `role`: outside any dialog, or inside the dialog of kind `dialog` whose
    saved `state` says which question (and which offer) is pending. Pure: the dispatcher acts on the reading."""
    text = normalize(text)
    if not text:
        return Reading(EMPTY)
    if text.casefold() in CANCEL_WORDS:
        return Reading(CANCEL)
    offer = (state or {}).get(OFFER)
    if offer is not None:
        option = offer_option(offer, text)
        if option is not None:
            return Reading(CHOICE, {"option": option})
    kind = small_talk(text)
    if kind is not None:
        return Reading(SMALL_TALK, {"kind": kind})
    implicit = _implicit(text)
    if implicit is not None:
        return implicit
    found, rest = match_command(text, role)
    if found is not None:
        return Reading(found.name, found.read(rest), found)
    spec = dialog_command(dialog).dialog if dialog else None  # type: ignore[union-attr]
    if spec is not None:
        if text == CONTINUE:
            return Reading(RESUME)
        asking = (state or {}).get(ASKING)
        current = asking if asking in spec.vocabulary.labels.values() else None
        return Reading(ANSWER, fields_args(read_fields(text, spec.vocabulary, current=current)))
    return _phrase(text, role) or _form(text) or Reading(UNKNOWN)
