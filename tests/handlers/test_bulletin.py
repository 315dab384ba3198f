"""The weekly 工作简报 read back with python-docx: its layout (GB/T 9704 page, fonts with fallbacks, page
numbers), its four sections, every reporting unit's text, and figures equal to what 汇总 says the same day."""

from __future__ import annotations

import io
import re
import shutil
import subprocess
from datetime import date
from pathlib import Path

import pytest
from docx import Document
from docx.document import Document as Doc
from sqlalchemy import update

from exports.bulletin_docx import write_bulletin
from handlers.bulletin import Bulletin, BulletinError, clip, compile_bulletin, parse_week
from storage.db import transaction
from storage.models import Campaign, WeeklyReport
from tests.conftest import Database, SimChat
from tests.factories import TODAY, build_ledger, campaign_of, unit_named

LAW_REPORT = "本周完成执法案卷评查3件。\n整改公示栏2处"
OFFICE_REPORT = "本周召开专项整治推进会一次，督促各科室按时报送问题清单。"


@pytest.fixture
def ledger(plan_loaded: Database) -> Database:
    build_ledger(plan_loaded)
    with transaction(plan_loaded.sessions) as session:
        for name, text in (("法制科", LAW_REPORT), ("办公室", OFFICE_REPORT)):
            session.execute(
                update(WeeklyReport)
                .where(WeeklyReport.iso_week == 29, WeeklyReport.unit_id == unit_named(session, name).id)
                .values(text=text)
            )
    return plan_loaded


def compiled(db: Database, week: str = "2020-W29", today: date = TODAY) -> Bulletin:
    with transaction(db.sessions) as session:
        return compile_bulletin(session, campaign_of(session), *parse_week(week), today=today)


def written(bulletin: Bulletin) -> Doc:
    buffer = io.BytesIO()
    write_bulletin(bulletin, buffer)
    buffer.seek(0)
    return Document(buffer)


def sections(document: Doc) -> dict[str, list[str]]:
    """Heading → the paragraphs under it."""
    found: dict[str, list[str]] = {}
    current = None
    for paragraph in document.paragraphs:
        if paragraph.style.name == "简报一级标题":
            current = found.setdefault(paragraph.text, [])
        elif current is not None:
            current.append(paragraph.text)
    return found


def test_the_bulletin_has_its_masthead_and_four_sections(ledger: Database) -> None:
    document = written(compiled(ledger))
    title, number, issuer = (p.text for p in document.paragraphs[:3])
    assert title == "行政执法不作为慢作为乱作为专项整治工作简报"
    assert number == "第7期"  # the campaign began in week 23
    assert issuer == "中卫市司法局\t2020年7月15日"
    body = sections(document)
    assert list(body) == ["一、总体进展", "二、各单位工作动态", "三、存在问题", "四、下步安排"]
    assert body["二、各单位工作动态"] == [f"办公室：{OFFICE_REPORT}", "法制科：本周完成执法案卷评查3件。整改公示栏2处"]
    assert body["三、存在问题"][0].startswith("（一）问题整改。逾期未整改问题1个，涉及1个单位：法制科1个。")
    assert body["三、存在问题"][1] == "（二）周报报送。第29周尚未报送2个单位（执法监察支队、耕地保护科）。"
    assert body["三、存在问题"][2] == "（三）材料报送。「专项整治联系人」（6月10日截止）尚有1个单位未报送：耕地保护科。"
    steps = body["四、下步安排"]
    assert steps[0] == "1. 1个问题3天内到期，请责任单位抓紧整改、及时销号。"
    assert "2. 7月24日12:00前，各单位报送第30周工作信息。" in steps
    assert steps[-1] == "3. 9月10日前完成90%以上的整改任务（目前57.1%）。"  # 9月30日's are more than 30 days off


def test_the_figures_are_those_of_the_summary(ledger: Database, chat: SimChat) -> None:
    summary = chat.send("YuJianKui", "汇总")  # the same day, 2020-07-15
    logged, not_started, in_progress, rectified, overdue = re.search(
        r"问题：共 (\d+) 个，未整改 (\d+)，整改中 (\d+)，已整改 (\d+)，逾期 (\d+)", summary
    ).groups()  # type: ignore[union-attr]
    rate = re.search(r"整改率：([\d.]+%)", summary).group(1)  # type: ignore[union-attr]
    expected = re.search(r"按进度今日应达 ([\d.]+%)", summary).group(1)  # type: ignore[union-attr]
    registered, units = re.search(r"联络员登记：(\d+)/(\d+) 个单位", summary).groups()  # type: ignore[union-attr]
    reported = re.search(r"本周周报（第29周）：(\d+/\d+) 个单位已报送", summary).group(1)  # type: ignore[union-attr]
    phase = re.search(r"当前阶段：(\S+?)（至 (\S+?)，还剩 (\d+) 天", summary).groups()  # type: ignore[union-attr]
    overall = "".join(sections(written(compiled(ledger)))["一、总体进展"])
    assert f"专项整治处于{phase[0]}（{phase[1]}结束，还有{phase[2]}天）" in overall
    assert f"{units}个单位中{registered}个已登记联络员" in overall
    assert (
        f"各单位共登记问题{logged}个，已整改{rectified}个，整改中{in_progress}个，未整改{not_started}个，"
        f"其中逾期{overdue}个。整改率{rate}"
    ) in overall
    assert f"按进度今日应达{expected}" in overall
    assert f"第29周（7月13日–7月17日）{reported}个单位报送了工作信息" in overall


def test_late_reports_are_marked_and_public_naming_off_only_counts(ledger: Database) -> None:
    with transaction(ledger.sessions) as session:
        session.execute(
            update(WeeklyReport).where(WeeklyReport.unit_id == unit_named(session, "办公室").id).values(late=True)
        )
        session.execute(update(Campaign).values(public_naming=False))
    body = sections(written(compiled(ledger)))
    assert body["二、各单位工作动态"][0] == f"办公室（迟报）：{OFFICE_REPORT}"
    assert "其中迟报1个" in "".join(body["一、总体进展"])
    problems = "".join(body["三、存在问题"])
    assert "逾期未整改问题1个，涉及1个单位。" in problems and "第29周迟报1个单位，尚未报送2个单位。" in problems
    assert not any(name in problems for name in ("法制科", "办公室", "执法监察支队", "耕地保护科"))


def test_a_past_weeks_bulletin_is_of_that_week(ledger: Database) -> None:
    bulletin = compiled(ledger, "2020-W28")
    assert bulletin.number == 6 and bulletin.as_of == date(2020, 7, 12)  # as of the week's Sunday
    assert sections(written(bulletin))["二、各单位工作动态"] == ["办公室（迟报）：本周工作", "法制科：本周工作"]


@pytest.mark.parametrize(
    ("week", "said"),
    [
        ("2020-W22", "在专项整治开始（2020年6月4日）之前"),
        ("2020-W30", "还没有到"),
        ("2020-49", "应写成 2026-W49"),
        ("2021-W53", "2021年没有第53周"),
    ],
)
def test_weeks_without_a_bulletin_are_refused(ledger: Database, week: str, said: str) -> None:
    with pytest.raises(BulletinError, match=said):
        compiled(ledger, week)


def test_the_page_and_the_fonts_are_those_of_the_national_standard(ledger: Database) -> None:
    document = written(compiled(ledger))
    section = document.sections[0]
    millimetres = [
        round(length.mm)
        for length in (
            section.page_width,
            section.page_height,
            section.top_margin,
            section.bottom_margin,
            section.left_margin,
            section.right_margin,
        )
    ]
    assert millimetres == [210, 297, 37, 35, 28, 26]  # A4; a type area of 156 × 225 mm
    east_asian = {
        name: document.styles[name].element.rPr.rFonts.get(
            "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}eastAsia"
        )
        for name in ("Normal", "简报报头", "简报一级标题", "简报楷体")
    }
    assert east_asian == {
        "Normal": "仿宋_GB2312",
        "简报报头": "方正小标宋简体",
        "简报一级标题": "黑体",
        "简报楷体": "楷体_GB2312",
    }
    assert document.styles["Normal"].font.size.pt == 16  # 3号
    font_table = next(
        rel.target_part for rel in document.part.rels.values() if rel.reltype.endswith("/fontTable")
    ).blob.decode()
    assert '<w:font w:name="仿宋_GB2312"><w:altName w:val="仿宋,FangSong,STFangsong"/>' in font_table
    assert '<w:font w:name="方正小标宋简体"><w:altName w:val="华文中宋,' in font_table
    assert document.settings.odd_and_even_pages_header_footer
    for footer in (section.footer, section.even_page_footer):
        paragraph = footer.paragraphs[0]
        assert paragraph.text == "—  —" and '<w:fldSimple w:instr="PAGE">' in paragraph._p.xml  # — 1 —, — 2 — …


def test_long_reports_are_clipped_after_a_sentence() -> None:
    text = "本周开展执法检查。" * 40
    clipped = clip(text)
    assert len(clipped) <= 302 and clipped.endswith("。……") and clipped.startswith("本周开展执法检查。")
    assert clip("第一行\n\n第二行。\n第三行") == "第一行；第二行。第三行"
    assert clip("一、推进会;\n二、案卷评查,\n三、下周安排") == "一、推进会;二、案卷评查,三、下周安排"  # as sent in chat
    assert clip("无标点" * 200).endswith("……") and len(clip("无标点" * 200)) == 302


@pytest.mark.skipif(
    shutil.which("soffice") is None, reason="LibreOffice is not installed (apt-get install libreoffice-writer-nogui)"
)
@pytest.mark.slow  # LibreOffice: make test-quick leaves it out
def test_libreoffice_renders_it_to_pdf(ledger: Database, tmp_path: Path) -> None:
    path = tmp_path / "简报.docx"
    write_bulletin(compiled(ledger), str(path))
    profile = tmp_path / "profile"  # a profile of its own: a second LibreOffice would wait on a shared one
    subprocess.run(
        [
            "soffice",
            f"-env:UserInstallation=file://{profile}",
            "--headless",
            "--convert-to",
            "pdf",
            "--outdir",
            str(tmp_path),
            str(path),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    pdf = (tmp_path / "简报.pdf").read_bytes()
    assert pdf.startswith(b"%PDF")
    assert len(re.findall(rb"/Type\s*/Page\b", pdf)) == 2  # the masthead and 一、二 on the first page
