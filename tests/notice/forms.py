"""A notice's text in the forms offices receive it: .docx (python-docx), PDF with a text layer (reportlab and
its built-in CID font STSong-Light, so no font file is needed) and OFD (the GB/T 33190 package of XML, written
here by hand). Each carries a running header and page numbers, as official documents do, and the PDF and OFD
break paragraphs into lines as a layout does: what the readers must undo."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from typing import Any

import docx
from reportlab.lib.pagesizes import A4
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfgen import canvas

from notice.model import NoticePlan
from tests.notice.corpus import when_key

HEADER = "某某市专项整治工作领导小组办公室文件"
FONT = "STSong-Light"
pdfmetrics.registerFont(UnicodeCIDFont(FONT))


def paragraphs(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def to_docx(text: str) -> bytes:
    """One paragraph per line; runs of tab-separated lines become a table (the 附件 tables)."""
    document = docx.Document()
    document.sections[0].header.paragraphs[0].text = HEADER
    document.sections[0].footer.paragraphs[0].text = "- 1 -"
    rows: list[list[str]] = []

    def flush() -> None:
        if rows:
            table = document.add_table(rows=len(rows), cols=max(len(r) for r in rows))
            for r, row in enumerate(rows):
                for c, cell in enumerate(row):
                    table.cell(r, c).text = cell
            rows.clear()

    for line in paragraphs(text):
        if "\t" in line:
            rows.append([cell.strip() for cell in line.split("\t")])
            continue
        flush()
        document.add_paragraph(line)
    flush()
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


TABLE = 0.5  # table cells are set smaller than the body, as in the 附件 tables


def _laid_out(text: str, width: float, size: float, measure: Any) -> Iterator[list[tuple[float, str, float]]]:
    """The printed lines, each as (x offset, text, font size) pieces: paragraphs indented two characters and
    wrapped at the margin; a table row's cells side by side, a little over two body characters apart."""
    for line in paragraphs(text):
        if "\t" in line:
            pieces, x = [], 0.0
            for cell in (c.strip() for c in line.split("\t")):
                if cell:
                    pieces.append((x, cell, size * TABLE))
                x += measure(cell) * TABLE + 2.2 * size
            yield pieces
            continue
        indent, current = 2 * size, ""
        for ch in line:
            if indent + measure(current + ch) > width:
                yield [(indent, current, size)]
                indent, current = 0.0, ""
            current += ch
        yield [(indent, current, size)]


def _advance(text: str, size: float = 12.0) -> float:
    """Full width for Chinese characters and punctuation, half for ASCII: how official documents are set."""
    return sum(size if ord(ch) > 0x2E80 else size / 2 for ch in text)


def to_pdf(text: str) -> bytes:
    out = io.BytesIO()
    page_width, page_height = A4
    left, size, leading = 72.0, 12.0, 20.0
    width = page_width - 2 * left
    pdf = canvas.Canvas(out, pagesize=A4)
    page = 1

    def furniture() -> None:
        pdf.setFont(FONT, 9)
        pdf.drawCentredString(page_width / 2, page_height - 40, HEADER)
        pdf.drawCentredString(page_width / 2, 36, f"- {page} -")
        pdf.setFont(FONT, size)

    furniture()
    y = page_height - 90
    for pieces in _laid_out(text, width, size, _advance):
        if y < 90:
            pdf.showPage()
            page += 1
            furniture()
            y = page_height - 90
        for x, words, font_size in pieces:
            pdf.setFont(FONT, font_size)
            at = left + x
            for ch in words:  # one by one at our own advances: STSong-Light's ASCII widths vary by renderer
                pdf.drawString(at, y, ch)
                at += _advance(ch) * font_size / size
        pdf.setFont(FONT, size)
        y -= leading
    pdf.save()
    return out.getvalue()


def to_ofd(text: str) -> bytes:
    """An OFD package: OFD.xml → Doc_0/Document.xml → one Content.xml per page of TextObjects (GB/T 33190)."""
    ns = 'xmlns:ofd="http://www.ofdspec.org/2016"'
    page_w, page_h, left, size, leading = 210.0, 297.0, 25.0, 4.2, 7.0
    width = page_w - 2 * left

    def measure(s: str, font_size: float = size) -> float:
        return _advance(s, font_size)

    pages: list[list[str]] = [[]]
    next_id = [10]

    def text_object(x: float, y: float, words: str, font_size: float) -> str:
        next_id[0] += 1
        deltas = " ".join(f"{font_size if ord(ch) > 0x2E80 else font_size / 2:g}" for ch in words[:-1])
        escaped = words.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        return (
            f'<ofd:TextObject ID="{next_id[0]}" Boundary="{x:.2f} {y:.2f} {measure(words, font_size) + 1:.2f} '
            f'{font_size * 1.5:.2f}" Font="1" Size="{font_size:g}"><ofd:TextCode X="0" Y="{font_size:g}" '
            f'DeltaX="{deltas}">{escaped}</ofd:TextCode></ofd:TextObject>'
        )

    def furniture(number: int) -> None:
        pages[-1].append(text_object(70, 12, HEADER, 3.2))
        pages[-1].append(text_object(100, 282, f"- {number} -", 3.2))

    furniture(1)
    y = 30.0
    for pieces in _laid_out(text, width, size, measure):
        if y > 265:
            pages.append([])
            furniture(len(pages))
            y = 30.0
        for x, words, font_size in pieces:
            pages[-1].append(text_object(left + x, y, words, font_size))
        y += leading
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as package:
        package.writestr(
            "OFD.xml",
            f'<?xml version="1.0" encoding="UTF-8"?><ofd:OFD {ns} Version="1.0" DocType="OFD">'
            "<ofd:DocBody><ofd:DocInfo><ofd:DocID>test</ofd:DocID></ofd:DocInfo>"
            "<ofd:DocRoot>Doc_0/Document.xml</ofd:DocRoot></ofd:DocBody></ofd:OFD>",
        )
        listed = "".join(f'<ofd:Page ID="{i + 2}" BaseLoc="Pages/Page_{i}/Content.xml"/>' for i in range(len(pages)))
        package.writestr(
            "Doc_0/Document.xml",
            f'<?xml version="1.0" encoding="UTF-8"?><ofd:Document {ns}>'
            f"<ofd:CommonData><ofd:MaxUnitID>{next_id[0]}</ofd:MaxUnitID><ofd:PageArea>"
            f"<ofd:PhysicalBox>0 0 {page_w:g} {page_h:g}</ofd:PhysicalBox></ofd:PageArea>"
            "<ofd:PublicRes>PublicRes.xml</ofd:PublicRes></ofd:CommonData>"
            f"<ofd:Pages>{listed}</ofd:Pages></ofd:Document>",
        )
        package.writestr(
            "Doc_0/PublicRes.xml",
            f'<?xml version="1.0" encoding="UTF-8"?><ofd:Res {ns} BaseLoc="Res">'
            '<ofd:Fonts><ofd:Font ID="1" FontName="宋体" FamilyName="宋体"/></ofd:Fonts></ofd:Res>',
        )
        for index, objects in enumerate(pages):
            package.writestr(
                f"Doc_0/Pages/Page_{index}/Content.xml",
                f'<?xml version="1.0" encoding="UTF-8"?><ofd:Page {ns}><ofd:Content>'
                f'<ofd:Layer ID="{index + 1000}">{"".join(objects)}</ofd:Layer></ofd:Content></ofd:Page>',
            )
    return out.getvalue()


def digest(plan: NoticePlan) -> dict[str, Any]:
    """What a plan says, without where it says it (line numbers differ between a file's forms)."""

    def key(when: Any, role: str = "end") -> Any:
        return when_key(when, role)  # type: ignore[arg-type]

    return {
        "name": plan.name and plan.name.value,
        "issuer": plan.issuer and plan.issuer.value,
        "year": plan.year,
        "span": (key(plan.start, "start"), key(plan.end)),
        "target": plan.target and (plan.target.rate, key(plan.target.by)),
        "phases": [(p.name.value, key(p.start, "start"), key(p.end)) for p in plan.phases],
        "deliverables": [(d.name, key(d.due), d.to, d.units, d.sender) for d in plan.deliverables],
        "weekly": plan.weekly and (plan.weekly.weekday, plan.weekly.due),
        "monthly": [(m.day, m.what) for m in plan.monthly],
        "focus_areas": [t.value for t in plan.focus_areas],
        "sources": [t.value for t in plan.sources],
        "units": [t.value for t in plan.units],
        "tasks": [(t.number, t.lead, t.partners, t.responsible, t.deadline, t.kind) for t in plan.tasks],
        "shortfalls": len(plan.shortfalls),
        "coordinators": [(c.name, c.phone) for c in plan.coordinators],
    }
