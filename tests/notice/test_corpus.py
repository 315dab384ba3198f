"""The importer on public notices that are not the seeds (tests/fixtures/notices): recall and precision against
expectations written by reading, no year the notice never gave, and the same plan whether the notice comes as
text, Word, PDF or OFD. The figures are printed apart for the 30 notices the rules were first written against and
for each batch gathered afterwards (held_out: 1-4): a batch's figure before rules were written from its misses
says how far the rules carry to notices they have not seen (corpus.yaml keeps those first figures)."""

from __future__ import annotations

import pytest

from notice import import_document, import_notice, read_document
from tests.notice.corpus import Entry, Score, corpus
from tests.notice.forms import digest, to_docx, to_ofd, to_pdf

pytestmark = pytest.mark.slow  # every notice of the corpus in four file formats: make test-quick leaves it out

RECALL, PRECISION = 0.90, 0.97
FORMS = {"docx": to_docx, "pdf": to_pdf, "ofd": to_ofd}


def batch(entry: Entry) -> str:
    held = entry.expected.get("held_out")
    return f"held out {held}" if held else "tuned on"


def test_the_corpus_is_sixty_notices_from_many_regions_and_fields() -> None:
    entries = corpus()
    assert len(entries) >= 60 and len([e for e in entries if not e.expected.get("held_out")]) >= 30
    assert len({e.expected["region"] for e in entries}) >= 50 and len({e.expected["field"] for e in entries}) >= 50
    assert all(e.source.startswith("http") for e in entries)


def test_recall_and_precision_on_the_corpus_the_same_in_every_form() -> None:
    """Each notice as .txt, .docx, PDF and OFD: the same plan from all four, and its score by batch and in all.
    The targets are asserted on the whole corpus; the last batch, which no rule was written from, falls short
    of them (recall 6/11, precision 6/7), and that figure is printed for what it says about new notices."""
    scores: dict[tuple[str, str], Score] = {}
    for entry in corpus():
        as_text = import_notice(entry.text)
        for name in (batch(entry), "whole corpus"):
            scores.setdefault(("txt", name), Score()).add(entry, as_text)
        for form, make in FORMS.items():
            plan = import_document(read_document(make(entry.text)))
            assert digest(plan) == digest(as_text), f"{entry.file} as {form}"
            scores.setdefault((form, batch(entry)), Score()).add(entry, plan)
    print()
    for (form, name), score in sorted(scores.items()):
        print(
            f"corpus ({form}, {name}): recall {score.recall:.3f} ({score.matched}/{score.expected}), "
            f"precision {score.precision:.3f} ({score.found - len(score.extras)}/{score.found}), "
            f"invented years {len(score.invented_years)}"
        )
    whole = scores["txt", "whole corpus"]
    assert whole.invented_years == []
    assert whole.recall >= RECALL, "\n".join(whole.misses)
    assert whole.precision >= PRECISION, "\n".join(whole.extras)
