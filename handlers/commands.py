"""Commands are declared beside their handlers, and every message is read here, once, the same way.

A handler module declares each command with `@command(words…, roles=…, usage=…)`: the words that start
it, who may use it, its line in the 帮助 menu, how its arguments are read from the rest of the message
(pure, no database), whether it writes anything, and its guided dialog if it has one. The dispatcher and
the menu are built from these declarations. Two commands may share a word when they serve different roles
(周报: a liaison sends this week's, a coordinator reads the units'); the sender's role picks one.
handlers.reading reads messages against these declarations.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from core.roles import Role
from handlers.context import Context
from handlers.dialogs import DialogSpec
from handlers.message import Reply
from handlers.parsing import FieldsRead, read_fields

Args = Mapping[str, Any]

LIAISON = frozenset({Role.LIAISON})
COORDINATOR = frozenset({Role.COORDINATOR})
STAFF = frozenset({Role.LIAISON, Role.COORDINATOR})
EVERYONE = frozenset(Role)


def no_args(_rest: str) -> Args:
    return {}


@dataclass(frozen=True)
class Command:
    words: tuple[str, ...]
    roles: frozenset[str]
    usage: str  # one line of the 帮助 menu
    run: Callable[[Context, Args], Reply]
    read: Callable[[str], Args] = no_args
    writes: bool | Callable[[Args], bool] = True  # may change stored data (then never run inside a dialog)
    dialog: DialogSpec | None = None
    order: int = 50  # place in the 帮助 menu
    # Reads a whole message written without the command word (法制科上周周报), for the command's roles only;
    # tried when no command word starts the message. None: the word is needed.
    phrase: Callable[[str], Args | None] | None = None

    @property
    def name(self) -> str:
        return self.words[0]

    def writes_with(self, args: Args) -> bool:
        return self.writes(args) if callable(self.writes) else self.writes


COMMANDS: list[Command] = []


def command(
    *words: str,
    roles: frozenset[str],
    usage: str,
    read: Callable[[str], Args] = no_args,
    writes: bool | Callable[[Args], bool] = True,
    dialog: DialogSpec | None = None,
    order: int = 50,
    phrase: Callable[[str], Args | None] | None = None,
) -> Callable[[Callable[[Context, Args], Reply]], Callable[[Context, Args], Reply]]:
    """Declare the decorated handler as a chat command."""

    def register(run: Callable[[Context, Args], Reply]) -> Callable[[Context, Args], Reply]:
        COMMANDS.append(Command(words, roles, usage, run, read, writes, dialog, order, phrase))
        return run

    return register


def fields_args(found: FieldsRead) -> dict[str, Any]:
    """A dialog's fields as read from a message, as command arguments (values, plus `free` and `unknown`)."""
    return {
        **found.values,
        **({"free": found.free} if found.free else {}),
        **({"unknown": found.unknown} if found.unknown else {}),
    }


def fields_of(args: Args) -> FieldsRead:
    """The inverse of `fields_args`: what a dialog takes."""
    values = {k: v for k, v in args.items() if k not in ("free", "unknown") and v}
    return FieldsRead(values, args.get("free", ""), list(args.get("unknown", ())))


def dialog_fields(spec: DialogSpec) -> Callable[[str], Args]:
    """The argument reader of a command that opens a dialog: the dialog's fields, read from the message."""
    return lambda rest: fields_args(read_fields(rest, spec.vocabulary))


def declared(name: str) -> Command:
    """The command declared under `name` (its first word), for a module below the reader that runs another
    command's handler (a file's caption 进展 #12 已整改 runs 进展)."""
    return next(c for c in COMMANDS if c.name == name)


def menu_commands() -> list[Command]:
    """Every command declared so far, in 帮助 menu order."""
    return sorted(COMMANDS, key=lambda c: c.order)
