"""Benchmark: reading a chat message (handlers.reading.read_message) over the chat corpus.

    .venv/bin/python bench/parse.py [--passes 200]

Every message of tests/fixtures/chat_corpus.yaml is read against the dialog it arrives in: the corpus's
campaign is prepared once in a temporary SQLite file and each message's earlier messages are replayed
there (in a rolled-back transaction) to obtain that dialog; the timing itself touches no database. Each
message is read `passes` times; the script prints p50, p99 and the slowest reading per message (target:
p99 ≤ 1 ms) against a baseline measured in the same run over the same messages — normalize(), the Unicode
and whitespace clean-up every reading starts with — and their ratio. Not run by `make test`.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from handlers.parsing import normalize
from handlers.reading import read_message
from storage.db import make_engine, make_session_factory, upgrade_schema
from tests.chat_corpus import CORPUS, dialog_before, prepare, read_text, rolled_back

TARGET_P99_MS = 1.0


def dialogs(url: str) -> list[tuple[str, str | None, dict[str, Any], str]]:
    """(text, dialog kind, dialog state, sender's role) of every corpus message, as the dispatcher would read it."""
    engine = make_engine(url)
    upgrade_schema(engine)
    prepare(make_session_factory(engine))
    found = []
    for entry in CORPUS.entries:
        with rolled_back(engine) as sessions:
            kind, state, role = dialog_before(sessions, entry)
        found.append((read_text(entry), kind, state, role))
    engine.dispose()
    return found


def timings(call: Callable[[], object], passes: int) -> list[float]:
    """Milliseconds of each of `passes` calls."""
    spent = []
    for _ in range(passes):
        started = time.perf_counter()
        call()
        spent.append((time.perf_counter() - started) * 1000)
    return spent


def percentile(values: list[float], share: float) -> float:
    return statistics.quantiles(values, n=1000, method="inclusive")[round(share * 1000) - 1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--passes", type=int, default=200, help="readings of each corpus message")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        messages = dialogs(f"sqlite:///{scratch}/corpus.db")
    for text, kind, state, role in messages:  # warm-up: regexes compiled, the command table built
        read_message(text, dialog=kind, state=state, role=role)
    reading: list[float] = []
    baseline: list[float] = []
    slowest = (0.0, "")
    for text, kind, state, role in messages:
        spent = timings(
            lambda text=text, kind=kind, state=state, role=role: read_message(
                text, dialog=kind, state=state, role=role
            ),
            args.passes,
        )
        reading.extend(spent)
        baseline.extend(timings(lambda text=text: normalize(text), args.passes))
        slowest = max(slowest, (statistics.median(spent), text.splitlines()[0][:30]))
    p50, p99 = percentile(reading, 0.5), percentile(reading, 0.99)
    base50, base99 = percentile(baseline, 0.5), percentile(baseline, 0.99)
    print(f"chat corpus: {len(messages)} messages × {args.passes} readings each")
    print(f"{'':<20} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}")
    print(f"{'read_message':<20} {p50:>8.3f} {p99:>8.3f} {max(reading):>8.3f}")
    print(f"{'normalize (baseline)':<20} {base50:>8.3f} {base99:>8.3f} {max(baseline):>8.3f}")
    print(f"ratio read/baseline: p50 {p50 / base50:.1f}×, p99 {p99 / base99:.1f}×")
    print(f"slowest message (median {slowest[0]:.3f} ms): {slowest[1]}")
    print(f"p99 {p99:.3f} ms — target ≤ {TARGET_P99_MS} ms: {'met' if p99 <= TARGET_P99_MS else 'NOT met'}")


if __name__ == "__main__":
    main()
