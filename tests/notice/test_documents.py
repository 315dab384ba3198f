"""Reading notices from the files offices receive: .docx, PDF with a text layer, OFD, text; and the files
duban cannot read, refused with what to do instead."""

from __future__ import annotations

import io
import zipfile
from datetime import date

import docx
import pytest
from reportlab.lib.pagesizes import A4
from reportlab.pdfgen import canvas

from notice import DocumentError, import_document, import_notice, read_document
from notice.writer import render_plan
from plan.schema import parse_plan
from tests.notice.forms import HEADER, digest, to_docx, to_ofd, to_pdf
from tests.notice.test_seeds import seed_text

FORMS = {"docx": to_docx, "pdf": to_pdf, "ofd": to_ofd}
LONG = "各县区要认真总结本地区开展专项治理工作的情况，" * 12  # wraps over several lines in a PDF or OFD
NOTICE = (
    f"关于开展安全生产专项整治的通知\n(一)动员部署阶段(2020年5月1日至5月31日)。{LONG}\n"
    f"(二)集中整治阶段(6月至9月)。{LONG}于9月30日前将工作总结报县安委办。\n" * 3
)


@pytest.mark.parametrize("kind", ["pdf", "ofd"])
def test_laid_out_pages_come_back_as_the_paragraphs_without_headers_or_page_numbers(kind: str) -> None:
    document = read_document(FORMS[kind](NOTICE))
    assert document.kind == kind
    assert document.text.splitlines() == [line for line in NOTICE.splitlines() if line]
    assert HEADER not in document.text and "- 2 -" not in document.text
    assert document.places is not None and document.places[:2] == ("第1页第1段", "第1页第2段")
    assert any(place.startswith("第2页") for place in document.places)  # three pages' worth


def test_a_word_file_gives_paragraphs_then_its_tables_as_tab_separated_rows() -> None:
    text = "关于开展专项整治的通知\n整治重点\t制度建设方面\t队伍建设方面\n发现问题数\t0\t0\n请于6月10日前报送。"
    document = read_document(to_docx(text))
    assert document.kind == "docx"
    assert document.text.splitlines() == [
        "关于开展专项整治的通知",
        "整治重点\t制度建设方面\t队伍建设方面",
        "发现问题数\t0\t0",
        "请于6月10日前报送。",
    ]
    assert document.places == ("第1段", "第1个表格第1行", "第1个表格第2行", "第2段")
    assert HEADER not in document.text  # the running header is Word's header, not the body
    assert [area.value for area in import_document(document).focus_areas] == ["制度建设", "队伍建设"]


def test_merged_cells_and_line_breaks_in_word() -> None:
    document = docx.Document()
    document.add_paragraph("一、时间安排").add_run().add_break()
    table = document.add_table(rows=1, cols=3)
    table.cell(0, 0).merge(table.cell(0, 1)).text = "单位名称"
    table.cell(0, 2).text = "联系电话"
    out = io.BytesIO()
    document.save(out)
    assert read_document(out.getvalue()).text.splitlines() == ["一、时间安排", "", "单位名称\t联系电话"]


@pytest.mark.parametrize("kind", ["docx", "pdf", "ofd"])
def test_the_plan_cites_the_page_and_paragraph_of_the_original(kind: str) -> None:
    plan = import_document(read_document(FORMS[kind](NOTICE)))
    text = render_plan(plan, source=f"通知.{kind}")
    where = "第1页第2段" if kind != "docx" else "第2段"
    assert f"  - name: 动员部署阶段  # {where}「(一)动员部署阶段(2020年5月1日至5月31日)」" in text.replace(
        "（", "("
    ).replace("）", ")")
    assert "页码、段落与原文" in text and "第3行" not in text


@pytest.mark.parametrize("number", ["000", "001", "002", "003", "004"])
@pytest.mark.slow  # renders every seed as PDF and OFD: make test-quick leaves it out
def test_the_seeds_round_trip_through_docx_pdf_and_ofd(number: str) -> None:
    as_text = digest(import_notice(seed_text(number)))
    for kind, make in FORMS.items():
        assert digest(import_document(read_document(make(seed_text(number))))) == as_text, kind


def test_text_files_in_utf8_or_gb18030_are_read_as_before() -> None:
    text = "(一)安排部署阶段(2020年6月10日前)"
    for data in (text.encode(), text.encode("gb18030"), b"\xef\xbb\xbf" + text.encode()):
        document = read_document(data)
        assert (document.kind, document.text, document.places) == ("txt", text, None)
    assert import_document(read_document(text.encode("gb18030"))).phases[0].end.day == date(2020, 6, 10)  # type: ignore[union-attr]


def _blank_pdf() -> bytes:
    out = io.BytesIO()
    pdf = canvas.Canvas(out, pagesize=A4)
    pdf.rect(100, 100, 300, 500, fill=1)  # a scanned page: a picture, no text
    pdf.showPage()
    pdf.save()
    return out.getvalue()


def _package(**files: str) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as package:
        for name, content in files.items():
            package.writestr(name.replace("__", "/"), content)
    return out.getvalue()


@pytest.mark.parametrize(
    ("data", "says"),
    [
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 64, "另存为」.docx 或 PDF"),  # .doc / .wps
        ("{\\rtf1\\ansi 通知}".encode(), "RTF"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 32, "不做文字识别（OCR）"),
        (b"\xff\xd8\xff\xe0" + b"\x00" * 32, "不做文字识别（OCR）"),
        (_blank_pdf(), "PDF 没有文字层"),
        (b"%PDF-1.7\n garbage", "PDF 文件已损坏或加密"),
        (b"PK\x03\x04 not really a zip", "文件已损坏"),
        (_package(mimetype="application/vnd.oasis.opendocument.text", **{"content.xml": "<x/>"}), ".odt"),
        (
            _package(**{"OFD.xml": "<ofd:OFD xmlns:ofd='http://www.ofdspec.org/2016'><ofd:DocBody/></ofd:OFD>"}),
            "OFD 文件缺少文档入口",
        ),
        (
            _package(
                **{
                    "OFD.xml": "<ofd:OFD xmlns:ofd='http://www.ofdspec.org/2016'><ofd:DocBody><ofd:DocRoot>Doc_0/"
                    "Document.xml</ofd:DocRoot></ofd:DocBody></ofd:OFD>"
                }
            ),
            "OFD 文件不完整",
        ),
        (bytes(range(128, 256)) * 4, "无法识别的文件格式"),
    ],
)
def test_files_duban_cannot_read_are_refused_with_what_to_do(data: bytes, says: str) -> None:
    with pytest.raises(DocumentError) as refused:
        read_document(data)
    assert says in str(refused.value)


def test_filled_attachment_tables_in_word_give_units_contacts_and_sources() -> None:
    text = (
        "关于开展专项整治的通知\n自2024年3月1日至6月30日开展专项整治。\n附件1\n专项整治联系人\n"
        "单位名称\t姓名\t职务\t联系电话\t微信或邮箱\n法制科\t陆和建\t科长\t139 0955 1234\tlu@example.cn\n"
        "执法监察支队\t俞建奎\t副支队长\t0955-7655608\t\n附件2\n问题清单\n"
        "序号\t年度\t线索名称\t线索来源\t线索内容\n1\t2024\t执法证件未年检\t专项检查\t…\n2\t2024\t案卷不规范\t信访举报\t…\n"
    )
    plan = import_document(read_document(to_docx(text)))
    assert [(c.unit, c.name, c.title, c.phone, c.email) for c in plan.contacts] == [
        ("法制科", "陆和建", "科长", "13909551234", "lu@example.cn"),
        ("执法监察支队", "俞建奎", "副支队长", "0955-7655608", None),
    ]
    assert [s.value for s in plan.sources] == ["专项检查", "信访举报"]
    rendered = render_plan(plan, source="通知.docx")
    assert (
        "  - {name: 法制科, contacts: [{name: 陆和建, title: 科长, phone: '13909551234', email: lu@example.cn}]}"
        in rendered
    )
    assert "联系电话→phone" in rendered and "第1个表格第1行" in rendered
    loaded = parse_plan(rendered, "plan.yaml")  # loads as it is: units come from the table
    assert [u.name for u in loaded.plan.units] == ["法制科", "执法监察支队"]
