"""The importer on 30 public notices that are not the seeds (tests/fixtures/notices): recall and precision
against expectations written by reading, no year the notice never gave, and the same plan whether the notice
comes as text, Word, PDF or OFD."""

from __future__ import annotations

from handlers.notice import import_document, import_notice, read_document
from tests.handlers.notice.corpus import Score, corpus
from tests.handlers.notice.forms import digest, to_docx, to_ofd, to_pdf

RECALL, PRECISION = 0.90, 0.97


def test_the_corpus_is_thirty_notices_from_many_regions_and_fields() -> None:
    entries = [e for e in corpus() if not e.expected.get("held_out")]
    assert len(entries) >= 30
    assert len({e.expected["region"] for e in entries}) >= 20 and len({e.expected["field"] for e in entries}) >= 20
    assert all(e.source.startswith("http") for e in corpus())


def test_recall_and_precision_on_the_corpus_the_same_in_every_form() -> None:
    """Each notice as .txt, .docx, PDF and OFD: the same plan from all four, and its score. The targets hold for
    the 30 notices the rules were written against; the held-out ones say how far they carry to new notices."""
    scores = {(form, held): Score() for form in ("txt", "docx", "pdf", "ofd") for held in (False, True)}
    for entry in corpus():
        held = bool(entry.expected.get("held_out"))
        as_text = import_notice(entry.text)
        scores["txt", held].add(entry, as_text)
        for form, make in (("docx", to_docx), ("pdf", to_pdf), ("ofd", to_ofd)):
            plan = import_document(read_document(make(entry.text)))
            assert digest(plan) == digest(as_text), f"{entry.file} as {form}"
            scores[form, held].add(entry, plan)
    print()
    for (form, held), score in scores.items():
        print(f"corpus ({form}, {'held out' if held else 'tuned on'}): recall {score.recall:.3f} "
              f"({score.matched}/{score.expected}), precision {score.precision:.3f} "
              f"({score.found - len(score.extras)}/{score.found}), invented years {len(score.invented_years)}")
    tuned, held_out = scores["txt", False], scores["txt", True]
    assert tuned.invented_years == [] and held_out.invented_years == []
    assert tuned.recall >= RECALL, "\n".join(tuned.misses)
    assert tuned.precision >= PRECISION, "\n".join(tuned.extras)
    assert held_out.precision >= 0.85, "\n".join(held_out.extras)  # what it finds in new notices is right
