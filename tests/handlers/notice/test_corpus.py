"""The importer on public notices that are not the seeds (tests/fixtures/notices): recall and precision against
expectations written by reading, no year the notice never gave, and the same plan whether the notice comes as
text, Word, PDF or OFD. The figures are printed apart for the 30 notices the rules were written against and for
each batch gathered afterwards (held_out: 1, 2), whose first figures say how far the rules carry to new notices."""

from __future__ import annotations

from handlers.notice import import_document, import_notice, read_document
from tests.handlers.notice.corpus import Entry, Score, corpus
from tests.handlers.notice.forms import digest, to_docx, to_ofd, to_pdf

RECALL, PRECISION = 0.90, 0.97
FORMS = {"docx": to_docx, "pdf": to_pdf, "ofd": to_ofd}


def batch(entry: Entry) -> str:
    held = entry.expected.get("held_out")
    return f"held out {held}" if held else "tuned on"


def test_the_corpus_is_thirty_notices_from_many_regions_and_fields() -> None:
    entries = [e for e in corpus() if not e.expected.get("held_out")]
    assert len(entries) >= 30
    assert len({e.expected["region"] for e in entries}) >= 20 and len({e.expected["field"] for e in entries}) >= 20
    assert all(e.source.startswith("http") for e in corpus())


def test_recall_and_precision_on_the_corpus_the_same_in_every_form() -> None:
    """Each notice as .txt, .docx, PDF and OFD: the same plan from all four, and its score by batch."""
    scores: dict[tuple[str, str], Score] = {}
    for entry in corpus():
        as_text = import_notice(entry.text)
        scores.setdefault(("txt", batch(entry)), Score()).add(entry, as_text)
        for form, make in FORMS.items():
            plan = import_document(read_document(make(entry.text)))
            assert digest(plan) == digest(as_text), f"{entry.file} as {form}"
            scores.setdefault((form, batch(entry)), Score()).add(entry, plan)
    print()
    for (form, name), score in sorted(scores.items()):
        print(f"corpus ({form}, {name}): recall {score.recall:.3f} ({score.matched}/{score.expected}), "
              f"precision {score.precision:.3f} ({score.found - len(score.extras)}/{score.found}), "
              f"invented years {len(score.invented_years)}")
    texts = [score for (form, _), score in scores.items() if form == "txt"]
    assert [year for score in texts for year in score.invented_years] == []
    tuned = scores["txt", "tuned on"]
    assert tuned.recall >= RECALL, "\n".join(tuned.misses)
    assert tuned.precision >= PRECISION, "\n".join(tuned.extras)
