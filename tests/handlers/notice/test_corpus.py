"""The importer on 30 public notices that are not the seeds (tests/fixtures/notices): recall and precision
against expectations written by reading, no year the notice never gave."""

from __future__ import annotations

from handlers.notice import import_notice
from tests.handlers.notice.corpus import Score, corpus

RECALL, PRECISION = 0.90, 0.97


def test_the_corpus_is_thirty_notices_from_many_regions_and_fields() -> None:
    entries = corpus()
    assert len(entries) >= 30
    assert len({e.expected["region"] for e in entries}) >= 20 and len({e.expected["field"] for e in entries}) >= 20
    assert all(e.source.startswith("http") for e in entries)


def test_recall_and_precision_on_the_corpus_as_text() -> None:
    score = Score()
    for entry in corpus():
        score.add(entry, import_notice(entry.text))
    print(f"\ncorpus (.txt): recall {score.recall:.3f} ({score.matched}/{score.expected}), "
          f"precision {score.precision:.3f} ({score.found - len(score.extras)}/{score.found})")
    assert score.invented_years == []
    assert score.recall >= RECALL, "\n".join(score.misses)
    assert score.precision >= PRECISION, "\n".join(score.extras)
