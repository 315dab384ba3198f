"""The importer on 30 public notices that are not the seeds (tests/fixtures/notices): recall and precision
against expectations written by reading, no year the notice never gave, and the same plan whether the notice
comes as text, Word, PDF or OFD."""

from __future__ import annotations

from handlers.notice import import_document, import_notice, read_document
from tests.handlers.notice.corpus import Score, corpus
from tests.handlers.notice.forms import digest, to_docx, to_ofd, to_pdf

RECALL, PRECISION = 0.90, 0.97


def test_the_corpus_is_thirty_notices_from_many_regions_and_fields() -> None:
    entries = corpus()
    assert len(entries) >= 30
    assert len({e.expected["region"] for e in entries}) >= 20 and len({e.expected["field"] for e in entries}) >= 20
    assert all(e.source.startswith("http") for e in entries)


def test_recall_and_precision_on_the_corpus_the_same_in_every_form() -> None:
    """Each notice as .txt, .docx, PDF and OFD: the same plan from all four, and its score."""
    scores = {form: Score() for form in ("txt", "docx", "pdf", "ofd")}
    for entry in corpus():
        as_text = import_notice(entry.text)
        scores["txt"].add(entry, as_text)
        for form, make in (("docx", to_docx), ("pdf", to_pdf), ("ofd", to_ofd)):
            plan = import_document(read_document(make(entry.text)))
            assert digest(plan) == digest(as_text), f"{entry.file} as {form}"
            scores[form].add(entry, plan)
    print()
    for form, score in scores.items():
        print(f"corpus ({form}): recall {score.recall:.3f} ({score.matched}/{score.expected}), "
              f"precision {score.precision:.3f} ({score.found - len(score.extras)}/{score.found}), "
              f"invented years {len(score.invented_years)}")
    score = scores["txt"]
    assert score.invented_years == []
    assert score.recall >= RECALL, "\n".join(score.misses)
    assert score.precision >= PRECISION, "\n".join(score.extras)
