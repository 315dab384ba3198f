"""Every message of the chat corpus (tests/fixtures/chat_corpus.yaml) is read as expected and answered as
expected, on SQLite and on PostgreSQL.

Each entry starts from the same ledger (the corpus's setup messages, sent once per database) and runs in a
transaction that is rolled back afterwards, so entries cannot affect each other.
"""

from __future__ import annotations

import pytest

from tests.chat_corpus import APOLOGY, CORPUS, Entry, replay, rolled_back
from tests.conftest import Database


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
