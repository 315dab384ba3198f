"""The weekly bulletin as a Word document laid out to the national 公文 format (GB/T 9704-2012).

A4 with the standard's margins (top 37 mm, bottom 35 mm, left 28 mm, right 26 mm: a 156 × 225 mm type area),
22 lines of 28 characters of 3号 (16 pt) 仿宋_GB2312, first-level headings in 黑体, second-level in 楷体_GB2312,
the title in 方正小标宋简体, page numbers 「— 1 —」 in 4号 宋体 at the outer edge (odd pages right, even left).
Those fonts are not on every PC: each is declared in the document's font table with the names Word and WPS
fall back to (仿宋_GB2312 → 仿宋), so the document opens the same way everywhere and stays editable.
"""

from __future__ import annotations

from typing import IO

from docx import Document
from docx.document import Document as Doc
from docx.enum.section import WD_SECTION
from docx.enum.style import WD_STYLE_TYPE
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_LINE_SPACING, WD_TAB_ALIGNMENT
from docx.opc.part import Part
from docx.oxml import OxmlElement, parse_xml
from docx.oxml.ns import nsdecls, qn
from docx.shared import Mm, Pt, RGBColor
from docx.styles.style import BaseStyle
from docx.text.paragraph import Paragraph as DocxParagraph
from lxml import etree

from core.dates import format_cn
from handlers.bulletin import Bulletin

TITLE_FONT = "方正小标宋简体"
BODY_FONT = "仿宋_GB2312"
HEADING_FONT = "黑体"
SUBHEADING_FONT = "楷体_GB2312"
PAGE_NUMBER_FONT = "宋体"
# What each font is called where it is missing: Windows ships 仿宋 and 楷体 (the _GB2312 variants come with
# older systems), WPS and macOS the ST names; the title falls back to a Song face.
FALLBACKS = {
    TITLE_FONT: "华文中宋,STZhongsong,宋体,SimSun",
    BODY_FONT: "仿宋,FangSong,STFangsong",
    SUBHEADING_FONT: "楷体,KaiTi,STKaiti",
    HEADING_FONT: "SimHei,STHeiti",
    PAGE_NUMBER_FONT: "SimSun,STSong",
}
RED = RGBColor(0xC0, 0x00, 0x00)
BODY_SIZE = Pt(16)  # 3号
LINE = Pt(28.95)  # 225 mm of type area / 22 lines
INDENT = Pt(32)  # two characters


def write_bulletin(bulletin: Bulletin, target: str | IO[bytes]) -> None:
    """Write the bulletin as .docx to a path or a binary stream."""
    document = Document()
    _page(document)
    _styles(document)
    _font_table(document)
    _masthead(document, bulletin)
    for section in bulletin.sections:
        document.add_paragraph(section.heading, style="简报一级标题")
        for item in section.paragraphs:
            paragraph = document.add_paragraph(style="简报正文")
            if item.subheading:
                paragraph.add_run(item.subheading, style="简报楷体")
            if item.lead:
                paragraph.add_run(item.lead).bold = True
            paragraph.add_run(item.text)
    _page_numbers(document)
    properties = document.core_properties
    properties.title = f"{bulletin.title}（第{bulletin.number}期）"
    properties.author = bulletin.campaign.issuer or "督办"
    properties.subject = f"{bulletin.iso_year}年第{bulletin.iso_week}周"
    document.save(target)


def _page(document: Doc) -> None:
    section = document.sections[0]
    section.start_type = WD_SECTION.NEW_PAGE
    section.page_width, section.page_height = Mm(210), Mm(297)
    section.top_margin, section.bottom_margin = Mm(37), Mm(35)
    section.left_margin, section.right_margin = Mm(28), Mm(26)
    section.header_distance, section.footer_distance = Mm(15), Mm(25)


def _east_asian(style: BaseStyle, font: str, *, latin: str = "Times New Roman") -> None:
    """Chinese text in `font`, digits and Latin letters in `latin` (python-docx sets only the Latin slots)."""
    style.font.name = latin  # type: ignore[attr-defined]
    fonts = style.element.get_or_add_rPr().get_or_add_rFonts()
    fonts.set(qn("w:eastAsia"), font)
    fonts.set(qn("w:hint"), "eastAsia")


def _styles(document: Doc) -> None:
    styles = document.styles
    normal = styles["Normal"]
    _east_asian(normal, BODY_FONT)
    normal.font.size = BODY_SIZE
    body = styles.add_style("简报正文", WD_STYLE_TYPE.PARAGRAPH)
    body.base_style = normal
    form = body.paragraph_format
    form.first_line_indent, form.line_spacing_rule, form.line_spacing = INDENT, WD_LINE_SPACING.EXACTLY, LINE
    form.space_before = form.space_after = Pt(0)
    form.alignment = WD_ALIGN_PARAGRAPH.JUSTIFY
    heading = styles.add_style("简报一级标题", WD_STYLE_TYPE.PARAGRAPH)
    heading.base_style = body
    _east_asian(heading, HEADING_FONT)
    heading.paragraph_format.keep_with_next = True
    kai = styles.add_style("简报楷体", WD_STYLE_TYPE.CHARACTER)
    _east_asian(kai, SUBHEADING_FONT)
    title = styles.add_style("简报报头", WD_STYLE_TYPE.PARAGRAPH)
    title.base_style = normal
    _east_asian(title, TITLE_FONT)
    title.font.size, title.font.color.rgb = Pt(26), RED
    title.paragraph_format.alignment = WD_ALIGN_PARAGRAPH.CENTER
    title.paragraph_format.space_after = Pt(12)
    title.paragraph_format.line_spacing = 1.1
    number = styles.add_style("简报期号", WD_STYLE_TYPE.PARAGRAPH)
    number.base_style = normal
    number.paragraph_format.alignment = WD_ALIGN_PARAGRAPH.CENTER
    number.paragraph_format.space_after = Pt(12)
    footer = styles.add_style("简报页码", WD_STYLE_TYPE.PARAGRAPH)
    footer.base_style = normal
    _east_asian(footer, PAGE_NUMBER_FONT, latin=PAGE_NUMBER_FONT)
    footer.font.size = Pt(14)  # 4号


def _font_table(document: Doc) -> None:
    """Declare the 公文 fonts with their fallbacks (w:altName) and GB2312 charset in word/fontTable.xml."""
    part = next(rel.target_part for rel in document.part.rels.values() if rel.reltype.endswith("/fontTable"))
    table = parse_xml(part.blob)
    for name, alternatives in FALLBACKS.items():
        font = parse_xml(
            f'<w:font {nsdecls("w")} w:name="{name}"><w:altName w:val="{alternatives}"/>'
            '<w:charset w:val="86"/><w:family w:val="modern"/><w:pitch w:val="fixed"/></w:font>'
        )
        table.append(font)
    _replace_blob(part, etree.tostring(table, xml_declaration=True, encoding="UTF-8", standalone=True))


def _replace_blob(part: Part, blob: bytes) -> None:
    # python-docx loads fontTable.xml as a plain Part with no XML API or setter: its bytes are what it saves.
    part._blob = blob


def _masthead(document: Doc, bulletin: Bulletin) -> None:
    """报头: the title in red, 第N期, the issuing office and the date, and a red rule under them."""
    document.add_paragraph(bulletin.title, style="简报报头")
    document.add_paragraph(f"第{bulletin.number}期", style="简报期号")
    line = document.add_paragraph(style="Normal")
    section = document.sections[0]
    # python-docx types these as optional; the template's one section sets all three.
    assert section.page_width is not None and section.left_margin is not None and section.right_margin is not None
    width = section.page_width - section.left_margin - section.right_margin
    line.paragraph_format.tab_stops.add_tab_stop(width, WD_TAB_ALIGNMENT.RIGHT)
    line.paragraph_format.space_after = Pt(18)
    line.add_run(f"{bulletin.campaign.issuer or ''}\t{format_cn(bulletin.as_of)}")
    borders = parse_xml(
        f'<w:pBdr {nsdecls("w")}><w:bottom w:val="single" w:sz="12" w:space="6" w:color="C00000"/></w:pBdr>'
    )
    line.paragraph_format.element.get_or_add_pPr().append(borders)


def _page_numbers(document: Doc) -> None:
    """「— N —」 at the outer edge of each page, one character in from it."""
    document.settings.odd_and_even_pages_header_footer = True
    section = document.sections[0]
    for footer, alignment in (
        (section.footer, WD_ALIGN_PARAGRAPH.RIGHT),
        (section.even_page_footer, WD_ALIGN_PARAGRAPH.LEFT),
    ):
        paragraph = footer.paragraphs[0]
        paragraph.style = document.styles["简报页码"]
        paragraph.alignment = alignment
        if alignment is WD_ALIGN_PARAGRAPH.RIGHT:
            paragraph.paragraph_format.right_indent = Pt(14)
        else:
            paragraph.paragraph_format.left_indent = Pt(14)
        paragraph.add_run("— ")
        _page_field(paragraph)
        paragraph.add_run(" —")


def _page_field(paragraph: DocxParagraph) -> None:
    # python-docx has no API for fields: a PAGE field is appended to the paragraph's XML as Word writes it.
    field = OxmlElement("w:fldSimple")
    field.set(qn("w:instr"), "PAGE")
    run = OxmlElement("w:r")
    text = OxmlElement("w:t")
    text.text = "1"
    run.append(text)
    field.append(run)
    paragraph._p.append(field)
