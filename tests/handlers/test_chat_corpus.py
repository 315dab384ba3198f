"""Every message of the chat corpus (tests/fixtures/chat_corpus.yaml) is read as expected and answered as
expected, on SQLite and on PostgreSQL.

Each entry starts from the same ledger (the corpus's setup messages, sent once per database) and runs in a
transaction that is rolled back afterwards, so entries cannot affect each other.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from storage.db import make_engine, make_session_factory
from storage.models import Base
from tests.chat_corpus import APOLOGY, Entry, load_corpus, prepare, replay, rolled_back
from tests.conftest import BACKENDS, Database

CORPUS = load_corpus()


@pytest.fixture(scope="module", params=BACKENDS)
def corpus_db(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Database]:
    if request.param == "sqlite":
        path: Path = tmp_path_factory.mktemp("corpus") / "duban.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        url = f"sqlite:///{path}"
    else:
        url = request.getfixturevalue("postgres_url")
    engine = make_engine(url)
    if request.param == "postgresql":
        with engine.begin() as connection:
            tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
            connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    database = Database(request.param, url, engine, make_session_factory(engine))
    prepare(database.sessions, CORPUS)
    yield database
    engine.dispose()


def test_the_corpus_is_large_enough() -> None:
    assert len(CORPUS.entries) >= 300


@pytest.mark.parametrize("entry", CORPUS.entries, ids=lambda e: e.label)
def test_corpus_message(corpus_db: Database, entry: Entry) -> None:
    with rolled_back(corpus_db.engine) as sessions:
        outcome = replay(sessions, entry)
    if entry.read is not None:
        expected = dict(entry.read)
        got = {"command": outcome.reading.kind, **outcome.reading.args}
        assert {key: got.get(key) for key in expected} == expected, f"read as {got}"
    assert APOLOGY not in outcome.text
    for part in entry.reply:
        assert part in outcome.text, f"{part!r} not in the reply:\n{outcome.text}"
    for part in entry.absent:
        assert part not in outcome.text, f"{part!r} in the reply:\n{outcome.text}"
