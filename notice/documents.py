"""Notices as offices receive them: Word (.docx), PDF with a text layer, OFD (GB/T 33190) and plain text.

Each reader turns the file into the notice's text, one paragraph a line, and says where each line was in the
original (第2页第3段, 第5段, 第1个表格第2行), so that the plan's comments point at what the person holds.
Files duban cannot read (old .doc/.wps, scans, images) get a message saying what to do instead.
"""

from __future__ import annotations

import io
import logging
import re
import zipfile
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import pairwise
from pathlib import PurePosixPath
from statistics import median
from typing import Any
from xml.etree.ElementTree import Element

from defusedxml import ElementTree

from notice.model import Places

# pdfminer logs a warning per glyph for fonts without a bounding box (Chromium's Type 3 fonts): thousands of
# lines for one notice, none of them the user's business.
logging.getLogger("pdfminer").setLevel(logging.ERROR)

MAX_PAGES = 200  # a notice with its attachments is a few dozen pages; more is not a notice


class DocumentError(ValueError):
    """The file is not a notice duban can read; the message (Chinese) says what to do instead."""


@dataclass(frozen=True)
class Document:
    """A notice's text, one paragraph a line, with where each line is in the original file."""

    text: str
    places: Places | None  # None for plain text, whose lines are the file's own
    kind: str  # docx, pdf, ofd, txt


OLD_OFFICE = (
    "这是旧版 Word/WPS 文件（.doc、.wps），督办无法直接读取：请用 Word 或 WPS 打开后「另存为」.docx 或 PDF，再导入。"
)
SCANNED = (
    "这份 {kind} 没有文字层，像是扫描件或图片；督办不做文字识别（OCR）。请使用原始的 Word 文件或"
    "由 Word 导出的 PDF，或先用 OCR 软件转成文字后再导入。"
)
UNKNOWN = "无法识别的文件格式：请上传 .docx、.pdf、.ofd 或纯文本（UTF-8 或 GB18030）的通知。"


def read_document(data: bytes) -> Document:
    """The notice in any format duban reads, chosen by the file's content rather than its name."""
    if data.startswith(b"PK\x03\x04"):
        return _read_package(data)
    if data.lstrip()[:5] == b"%PDF-":
        return read_pdf(data)
    if data.startswith(b"\xd0\xcf\x11\xe0"):  # OLE compound file: .doc, .wps, .et
        raise DocumentError(OLD_OFFICE)
    if data.startswith(b"{\\rtf"):
        raise DocumentError("这是 RTF 文件：请用 Word 或 WPS 打开后「另存为」.docx 或 PDF，再导入。")
    if data.startswith((b"\x89PNG", b"\xff\xd8\xff", b"II*\x00", b"MM\x00*", b"GIF8")):
        raise DocumentError(SCANNED.format(kind="图片"))
    try:
        return Document(read_text(data), None, "txt")
    except UnicodeDecodeError as error:
        raise DocumentError(UNKNOWN) from error


def read_text(data: bytes) -> str:
    """A text file: UTF-8 (with or without BOM), else GB18030, in which many government files are saved."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("gb18030")


def _read_package(data: bytes) -> Document:
    try:
        package = zipfile.ZipFile(io.BytesIO(data))
        names = set(package.namelist())
    except zipfile.BadZipFile as error:
        raise DocumentError("文件已损坏，无法打开：请重新导出后再导入。") from error
    if "word/document.xml" in names:
        return read_docx(data)
    if "OFD.xml" in names:
        return read_ofd(package)
    if "content.xml" in names:
        raise DocumentError("这是 WPS/OpenOffice 文档（.odt）：请「另存为」.docx 或 PDF，再导入。")
    raise DocumentError(UNKNOWN)


# --- Word ---------------------------------------------------------------------------------------------------


def read_docx(data: bytes) -> Document:
    """Paragraphs and tables in reading order; a table row becomes one line, its cells separated by tabs (the
    layout the 附件 readers know: 整治重点→制度建设方面→…). Headers and footers are left out."""
    import docx
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    try:
        document = docx.Document(io.BytesIO(data))
    except Exception as error:  # python-docx raises several types for a broken package
        raise DocumentError("Word 文件已损坏或不是 .docx：请重新另存为 .docx 后再导入。") from error
    lines: list[str] = []
    places: list[str] = []
    paragraphs = tables = 0
    for element in document.element.body.iterchildren():
        if element.tag.endswith("}p"):
            text = Paragraph(element, document).text
            if not text.strip():
                continue
            paragraphs += 1
            for part in text.split("\n"):  # a manual line break (Shift+Enter) inside the paragraph
                lines.append(part)
                places.append(f"第{paragraphs}段")
        elif element.tag.endswith("}tbl"):
            tables += 1
            for number, row in enumerate(Table(element, document).rows, 1):
                cells = _unique_cells(row.cells)
                if any(cells):
                    lines.append("\t".join(c.replace("\n", " ") for c in cells))
                    places.append(f"第{tables}个表格第{number}行")
    if not lines:
        raise DocumentError("Word 文件里没有文字：如果是扫描件插入的图片，督办不做文字识别（OCR）。")
    return Document("\n".join(lines), tuple(places), "docx")


def _unique_cells(cells: list[Any]) -> list[str]:
    """A merged cell appears once per grid column it spans in python-docx; keep it once."""
    seen: list[object] = []
    texts: list[str] = []
    for cell in cells:
        if cell._tc in seen:  # the same <w:tc> element: one merged cell
            continue
        seen.append(cell._tc)
        texts.append(cell.text.strip())
    return texts


# --- laid-out pages (PDF, OFD) ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Line:
    text: str
    x0: float
    x1: float
    top: float
    bottom: float


@dataclass(frozen=True)
class _Page:
    lines: list[_Line]
    width: float
    height: float
    char: float  # the body's usual character width


_PAGE_NUMBER = re.compile(
    r"^[-—–－·\s]*(?:第\s*)?[0-9]{1,4}\s*(?:页)?(?:\s*[/／]\s*(?:共\s*)?[0-9]{1,4}\s*页?)?"
    r"[-—–－·\s]*$"
)  # - 3 -, 第3页, 3/12, 第 3 页 共 12 页
_MARGIN = 0.09  # headers and footers sit in the top and bottom 9 % of a page


def _running(pages: list[_Page]) -> set[str]:
    """Lines printed in the margins of several pages (the issuer's running header, a footer)."""
    counts: Counter[str] = Counter()
    for page in pages:
        for line in page.lines:
            if line.top < page.height * _MARGIN or line.bottom > page.height * (1 - _MARGIN):
                counts[re.sub(r"[0-9]+", "#", line.text.strip())] += 1
    return {text for text, count in counts.items() if count >= 2}


def _body(page: _Page, running: set[str]) -> list[_Line]:
    """The page without its furniture: margin lines that repeat across pages, are set smaller than the body
    text, or are page numbers."""
    usual = median(line.bottom - line.top for line in page.lines)
    body = []
    for line in page.lines:
        in_margin = line.top < page.height * _MARGIN or line.bottom > page.height * (1 - _MARGIN)
        text = line.text.strip()
        small = line.bottom - line.top < usual * 0.85
        if in_margin and (small or _PAGE_NUMBER.match(text) or re.sub(r"[0-9]+", "#", text) in running):
            continue
        if _PAGE_NUMBER.match(text) and line.bottom > page.height * 0.8:  # - 3 - under the last line
            continue
        body.append(line)
    return body


def _paragraphs(pages: list[_Page]) -> Document:
    """Lines joined into paragraphs: a line that runs to the right margin continues on the next line (on the
    next page too) unless that one is indented, as the first line of a Chinese paragraph is, or set apart by
    the space Word puts between paragraphs."""
    running = _running(pages)
    lines: list[str] = []
    places: list[str] = []
    current = ""
    open_at: str | None = None
    full = False
    for number, page in enumerate(pages, 1):
        body = _body(page, running)
        if not body:
            continue
        left = min(line.x0 for line in body)
        right = max((line.x1 for line in body if "\t" not in line.text), default=page.width)
        steps = [b.top - a.top for a, b in pairwise(body) if b.top > a.top]
        leading = median(steps) if steps else page.char * 2
        on_page = 0
        above: _Line | None = None
        for line in body:
            indented = line.x0 > left + page.char * 0.8
            spaced = above is not None and line.top - above.top > leading * 1.3  # space between paragraphs
            above = line
            if current and full and not indented and not spaced:
                current += line.text.strip()
            else:
                if current:
                    lines.append(current)
                    places.append(open_at or "")
                on_page += 1
                current, open_at = line.text.strip(), f"第{number}页第{on_page}段"
            full = line.x1 >= right - page.char * 3  # line breaking keeps punctuation off a line's start
    if current:
        lines.append(current)
        places.append(open_at or "")
    return Document("\n".join(lines), tuple(places), "")


def _grouped(items: list[tuple[float, float, float, float, str]], char: float) -> list[_Line]:
    """Pieces of text (x0, x1, top, bottom, text) grouped into lines by their vertical position, left to right;
    a gap wider than two characters is a table's column break and becomes a tab, as in a Word table's row."""
    tolerance = char * 0.4
    lines: list[list[tuple[float, float, float, float, str]]] = []
    for item in sorted(items, key=lambda i: (i[2], i[0])):
        if lines and abs(lines[-1][0][2] - item[2]) <= tolerance:
            lines[-1].append(item)
        else:
            lines.append([item])
    out = []
    for pieces in lines:
        pieces.sort(key=lambda i: i[0])
        text = pieces[0][4]
        for before, piece in pairwise(pieces):
            if piece[0] - before[1] > char * 2:  # 标      题 spaced out is one word; 整治重点    制度建设 two cells
                text += "\t" if len(re.split(r"[\t ]", text)[-1].strip()) > 1 else " "
            text += piece[4]
        out.append(
            _Line(text, pieces[0][0], max(p[1] for p in pieces), min(p[2] for p in pieces), max(p[3] for p in pieces))
        )
    return out


# --- PDF ----------------------------------------------------------------------------------------------------


def read_pdf(data: bytes) -> Document:
    """The text layer of a PDF, page by page (pdfplumber: characters with their positions, which the header,
    footer and line-joining rules need; README says why not pypdf)."""
    import pdfplumber
    from pdfminer.pdfparser import PDFSyntaxError
    from pdfplumber.utils.exceptions import PdfminerException

    pages: list[_Page] = []
    try:
        with pdfplumber.open(io.BytesIO(data)) as pdf:
            if len(pdf.pages) > MAX_PAGES:
                raise DocumentError(f"PDF 有 {len(pdf.pages)} 页，不像一份通知（至多 {MAX_PAGES} 页）。")
            for page in pdf.pages:
                chars = [c for c in page.chars if c["text"].strip()]
                if not chars:
                    pages.append(_Page([], float(page.width), float(page.height), 10.0))
                    continue
                width = (
                    median(c["x1"] - c["x0"] for c in chars if ord(c["text"][0]) > 0x2E80)
                    if any(ord(c["text"][0]) > 0x2E80 for c in chars)
                    else median(c["size"] for c in chars)
                )
                items = [(c["x0"], c["x1"], c["top"], c["bottom"], c["text"]) for c in page.chars]
                pages.append(_Page(_grouped(items, width), float(page.width), float(page.height), width))
    except (PdfminerException, PDFSyntaxError, ValueError, KeyError, TypeError) as error:
        if isinstance(error, DocumentError):
            raise
        raise DocumentError("PDF 文件已损坏或加密，无法读取：请重新导出（不要设置打开密码）后再导入。") from error
    if not any(page.lines for page in pages):
        raise DocumentError(SCANNED.format(kind="PDF"))
    document = _paragraphs(pages)
    return Document(document.text, document.places, "pdf")


# --- OFD (GB/T 33190) ---------------------------------------------------------------------------------------

OFD = "{http://www.ofdspec.org/2016}"


def read_ofd(package: zipfile.ZipFile) -> Document:
    """The text objects of every page, in reading order.

    Read from the package's XML directly: the one Python library for OFD (easyofd) renders pages through
    PyMuPDF (AGPL), registers fonts and logs at import, and returns text pieces without lines or order.
    """
    try:
        root = _xml(package, "OFD.xml")
        doc_root = root.findtext(f"{OFD}DocBody/{OFD}DocRoot")
        if not doc_root:
            raise DocumentError("OFD 文件缺少文档入口（DocRoot），无法读取。")
        doc_path = PurePosixPath(doc_root.lstrip("/"))
        document = _xml(package, str(doc_path))
        box = _box(document.findtext(f"{OFD}CommonData/{OFD}PageArea/{OFD}PhysicalBox") or "0 0 210 297")
        pages = []
        for page in document.iterfind(f"{OFD}Pages/{OFD}Page"):
            location = doc_path.parent / page.get("BaseLoc", "")
            pages.append(_ofd_page(_xml(package, str(location)), box))
            if len(pages) > MAX_PAGES:
                raise DocumentError(f"OFD 超过 {MAX_PAGES} 页，不像一份通知。")
    except (KeyError, ElementTree.ParseError) as error:
        raise DocumentError("OFD 文件不完整或已损坏，无法读取：请重新导出后再导入。") from error
    if not any(page.lines for page in pages):
        raise DocumentError(SCANNED.format(kind="OFD"))
    result = _paragraphs(pages)
    return Document(result.text, result.places, "ofd")


def _xml(package: zipfile.ZipFile, name: str) -> Element:
    return ElementTree.fromstring(package.read(name.lstrip("/")))


def _box(text: str) -> tuple[float, float, float, float]:
    x, y, w, h = (float(v) for v in text.split())
    return x, y, w, h


def _ofd_page(content: Element, box: tuple[float, float, float, float]) -> _Page:
    area = content.findtext(f"{OFD}Area/{OFD}PhysicalBox")
    _, _, width, height = _box(area) if area else box
    items: list[tuple[float, float, float, float, str]] = []
    sizes: list[float] = []
    for text_object in content.iter(f"{OFD}TextObject"):
        bx, by, _, _ = _box(text_object.get("Boundary", "0 0 0 0"))
        size = float(text_object.get("Size", "3.5"))
        for code in text_object.iterfind(f"{OFD}TextCode"):
            text = code.text or ""
            if not text:
                continue
            x = bx + float(code.get("X", "0"))
            baseline = by + float(code.get("Y", "0"))
            advance = sum(_deltas(code.get("DeltaX", ""), len(text)))
            items.append((x, x + advance + size, baseline - size, baseline, text))
            sizes.extend(size for ch in text if ord(ch) > 0x2E80)
    char = median(sizes) if sizes else 3.5
    return _Page(_grouped(items, char), width, height, char)


def _deltas(spec: str, count: int) -> Iterator[float]:
    """The advances of a TextCode's DeltaX ("4.2 4.2 g 3 2.1": `g n v` repeats v n times), count - 1 of them."""
    tokens = spec.split()
    produced = 0
    index = 0
    while index < len(tokens) and produced < count - 1:
        if tokens[index] == "g":
            repeat, value = int(tokens[index + 1]), float(tokens[index + 2])
            for _ in range(min(repeat, count - 1 - produced)):
                produced += 1
                yield value
            index += 3
        else:
            produced += 1
            yield float(tokens[index])
            index += 1
