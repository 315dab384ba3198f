"""The chat corpus (tests/fixtures/chat_corpus.yaml): messages as liaisons and coordinators really write them.

`load_corpus` reads the file; `prepare` loads its campaign and sends its setup messages through the
dispatcher (the ledger every entry starts from); `replay` sends an entry's earlier messages, reads the
entry's message against the dialog they left and the sender's role (handlers.reading.read_message, what
the dispatcher acts on), then sends it. tests/handlers/test_chat_corpus.py checks the reading and the reply
of every entry on both databases; bench/parse.py times the reading.

The corpus also loads a second campaign (`also:`), archived: every entry is sent to a deployment serving the
corpus campaign alone, except those marked `several: true`, for which the second one is served too (inside the
entry's rolled-back transaction) — the messages of someone in two campaigns.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml
from sqlalchemy import Engine, update
from sqlalchemy.orm import Session, sessionmaker

from handlers.choosing import split_prefix
from handlers.dispatch import Dispatcher
from handlers.message import Attachment, IncomingMessage, Reply
from handlers.reading import Reading, read_message
from plan.schema import read_plan
from plan.sync import load_plan
from storage.db import transaction
from storage.files import stage_bytes
from storage.models import Campaign
from storage.repos import Campaigns, Dialogs, People

FIXTURES = Path(__file__).with_name("fixtures")
CORPUS = FIXTURES / "chat_corpus.yaml"
ZONE = ZoneInfo("Asia/Shanghai")
APOLOGY = "抱歉，处理这条消息时出错了"


def _moment(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=ZONE)


def _texts(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    return (value,) if isinstance(value, str) else tuple(value)


@dataclass(frozen=True)
class Entry:
    number: int  # 1-based, in file order
    who: str
    text: str
    at: datetime
    before: tuple[str, ...]  # messages the same user sends first (to open a dialog, an offer …)
    read: dict[str, Any] | None  # the expected reading: {command: …, argument: value …}
    reply: tuple[str, ...]  # texts the reply must contain
    absent: tuple[str, ...]  # texts it must not contain
    heard: str | None = None  # a voice message (WeCom's transcription) sent after `before`, which `text` answers
    several: bool = False  # sent where the second campaign (`also`) is served too

    @property
    def label(self) -> str:
        return f"{self.number:03d}:{self.who}:{self.text.splitlines()[0][:16]}"


@dataclass(frozen=True)
class Corpus:
    plan: Path
    setup: tuple[tuple[str, datetime, str], ...]  # (who, when, text)
    entries: tuple[Entry, ...]
    also: Path | None = None  # a second campaign, served only for the entries marked `several`

    @cached_property
    def campaigns(self) -> tuple[Named, ...]:
        """The corpus campaign and the second one, as far as their names go."""
        plans = [read_plan(path).plan.campaign for path in (self.plan, self.also) if path is not None]
        return tuple(Named(plan.name, plan.alias) for plan in plans)

    @property
    def second(self) -> str | None:
        return self.campaigns[1].name if len(self.campaigns) > 1 else None


@dataclass(frozen=True)
class Named:
    """A campaign's name and alias, to read a message's prefix without a session."""

    name: str
    alias: str | None


def load_corpus(path: Path = CORPUS) -> Corpus:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    now = _moment(data["now"])
    setup = tuple((m["who"], _moment(m["at"]), m["text"]) for m in data["setup"])
    entries = tuple(
        Entry(
            number,
            item["who"],
            item["text"],
            _moment(item["at"]) if "at" in item else now,
            _texts(item.get("before")),
            item.get("read"),
            _texts(item.get("reply")),
            _texts(item.get("absent")),
            item.get("heard"),
            bool(item.get("several")),
        )
        for number, item in enumerate(data["messages"], 1)
    )
    return Corpus(FIXTURES / data["plan"], setup, entries, FIXTURES / data["also"] if data.get("also") else None)


CORPUS = load_corpus()


def prepare(sessions: sessionmaker[Session], corpus: Corpus = CORPUS) -> None:
    """Load the corpus campaign and build its ledger by sending the setup messages."""
    with transaction(sessions) as session:
        load_plan(session, read_plan(corpus.plan), now=corpus.setup[0][1])
    dispatcher = Dispatcher(sessions)
    for n, (who, when, text) in enumerate(corpus.setup):
        reply = dispatcher.handle(IncomingMessage("wecom", who, text, when, message_id=f"setup-{n}"))
        assert not any(APOLOGY in t for t in reply.texts), f"setup message {text!r} failed"
    if corpus.also is not None:
        with transaction(sessions) as session:
            second = load_plan(session, read_plan(corpus.also), now=corpus.setup[-1][1]).campaign
            second.archived = True


def serve_both(sessions: sessionmaker[Session], corpus: Corpus = CORPUS) -> None:
    """Serve the second campaign too (an entry marked `several`, inside its rolled-back transaction)."""
    with transaction(sessions) as session:
        session.execute(update(Campaign).where(Campaign.name == corpus.second).values(archived=False))


@contextmanager
def rolled_back(engine: Engine) -> Iterator[sessionmaker[Session]]:
    """Sessions whose every transaction is a savepoint inside one transaction that is rolled back: an entry
    sees the prepared ledger and leaves it as it found it (the dispatcher's own commits included)."""
    with engine.connect() as connection:
        outer = connection.begin()
        try:
            yield sessionmaker(bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False)
        finally:
            outer.rollback()


@dataclass(frozen=True)
class Outcome:
    dialog: str | None  # the dialog the message arrived in
    state: dict[str, Any]
    reading: Reading
    reply: Reply

    @property
    def text(self) -> str:
        return "\n".join(self.reply.texts)


_ids = itertools.count()
FILE_MARK = "📎"  # `📎整改后.jpg` (optionally a newline and a caption): the user sends that file, not text
_FILE_CONTENT = {
    "jpg": b"\xff\xd8\xff\xe0" + bytes(32),
    "png": b"\x89PNG\r\n\x1a\n" + bytes(32),
    "pdf": b"%PDF-1.4\n%%EOF\n",
}


def incoming(who: str, text: str, at: datetime) -> IncomingMessage:
    """The message a corpus line stands for: text, or a file (with its caption) marked by FILE_MARK."""
    if not text.startswith(FILE_MARK):
        return IncomingMessage("wecom", who, text, at, message_id=f"corpus-{next(_ids)}")
    name, _, caption = text.removeprefix(FILE_MARK).partition("\n")
    content = _FILE_CONTENT.get(name.rpartition(".")[2], _FILE_CONTENT["pdf"]) + next(_ids).to_bytes(4, "big")
    return IncomingMessage(
        "wecom",
        who,
        caption,
        at,
        message_id=f"corpus-{next(_ids)}",
        attachment=Attachment(name, stage_bytes(content, name)),
    )


def dialog_before(sessions: sessionmaker[Session], entry: Entry) -> tuple[str | None, dict[str, Any], str]:
    """Send the entry's earlier messages; the dialog (kind and state) they leave the user in, and the user's role —
    in the campaign the entry's message goes to (for someone in two, the one of their dialog, else the first)."""
    if entry.several:
        serve_both(sessions)
    dispatcher = Dispatcher(sessions)
    for text in entry.before:
        dispatcher.handle(incoming(entry.who, text, entry.at))
    if entry.heard is not None:
        dispatcher.handle(
            IncomingMessage("wecom", entry.who, entry.heard, entry.at, message_id=f"corpus-{next(_ids)}", spoken=True)
        )
    with transaction(sessions) as session:
        serving = Campaigns(session).serving()
        named = split_prefix(entry.text, serving)
        dialogs = Dialogs(session)
        waiting = [c for c in serving if dialogs.get(c, "wecom", entry.who) is not None]
        members = People(session).memberships([c.id for c in serving], "wecom", entry.who)
        campaign = (
            named[0] if named else waiting[0] if waiting else next((c for c in serving if c.id in members), serving[0])
        )
        saved = dialogs.get(campaign, "wecom", entry.who)
        role = People(session).actor(campaign, "wecom", entry.who).role
        return (saved.kind, dict(saved.fields), role) if saved is not None else (None, {}, role)


def read_text(entry: Entry) -> str:
    """The entry's message as the dispatcher reads it: without a campaign's name in front (【三年行动】周报 …)."""
    named = split_prefix(entry.text, CORPUS.campaigns) if entry.several else None
    return named[1] if named and named[1].strip() else entry.text  # the name alone is a 切换


def replay(sessions: sessionmaker[Session], entry: Entry) -> Outcome:
    kind, state, role = dialog_before(sessions, entry)
    reading = read_message(read_text(entry), dialog=kind, state=state, role=role)
    reply = Dispatcher(sessions).handle(incoming(entry.who, entry.text, entry.at))
    return Outcome(kind, state, reading, reply)
