"""Reading a notice as published: traditional characters, widths, OCR look-alikes, PDF line wraps."""

from __future__ import annotations

import opencc

from notice import import_notice, read_text
from notice.text import display, normalize_line, read_notice, split_sentences
from tests.notice.test_seeds import SEED_004, seed_text


def test_traditional_characters_and_widths_read_like_the_usual_forms() -> None:
    assert normalize_line("牽頭單位：司法局") == "牵头单位:司法局"
    assert normalize_line("（ニ）自査整改階段（7月上旬至9月下旬）") == "(二)自查整改阶段(7月上旬至9月下旬)"
    assert normalize_line("(-)加强组织领导") == "(一)加强组织领导"
    assert normalize_line("9 月 10 日前，完成 90％ 以上") == "9月10日前,完成90%以上"
    assert normalize_line("**陆和建**同志[bookmark: _GoBack]") == "陆和建同志"
    assert normalize_line("卫片执法检查 and 例行督察") == "卫片执法检查 and 例行督察"
    assert normalize_line("附件1 6月10日") == "附件1 6月10日"
    assert normalize_line("整治重点\t制度建设方面\t回应群众诉求 方面") == "整治重点\t制度建设方面\t回应群众诉求方面"


def test_wrapped_lines_join_into_one_paragraph_that_remembers_its_lines() -> None:
    notice = read_notice(
        "一、标题\n\n9. 除法律、行政法规另有规定的外,行政执法决定公开率达\n\n到 100%，及时下撤。\n责任单位：司法局\n"
    )
    texts = [p.text for p in notice.paragraphs]
    assert texts == [
        "一、标题",
        "9.除法律、行政法规另有规定的外,行政执法决定公开率达到100%,及时下撤。",
        "责任单位:司法局",
    ]
    paragraph = notice.paragraphs[1]
    assert paragraph.line_at(0) == 3 and paragraph.line_at(paragraph.text.index("到100%")) == 5
    broken = read_notice("完成相关制度的建立(责\n\n任单位:法制科)。")
    assert broken.paragraphs[0].text == "完成相关制度的建立(责任单位:法制科)。"


def test_titles_and_signatures_are_not_joined_to_what_follows() -> None:
    notice = read_notice(
        "自然资源领域行政执法不作为慢作为乱作为专项整治工作方案\n"
        "按照自治区要求，结合实际，制定本方案。\n"
        "中共中卫市委员会全面依法治市委员会办公室\n2020年6月4日\n"
    )
    assert len(notice.paragraphs) == 4


def test_sentences_split_outside_brackets() -> None:
    text = "每周五上午报送信息;6月30日前报送《联系人(见附件1;电子版)》;10月9日前报送总结。"
    paragraph = read_notice(text).paragraphs[0]
    assert [paragraph.text[a:b] for a, b in split_sentences(paragraph)] == [
        "每周五上午报送信息;",
        "6月30日前报送《联系人(见附件1;电子版)》;",
        "10月9日前报送总结。",
    ]


def test_display_restores_chinese_punctuation_but_not_between_digits() -> None:
    assert display("联系人:俞建奎,电话:0955-7655608(传真),12:00") == "联系人：俞建奎，电话：0955-7655608（传真），12:00"


def test_a_traditional_character_notice_gives_the_same_tasks() -> None:
    traditional = opencc.OpenCC("s2t").convert(seed_text("004"))
    assert "牽頭單位" in traditional and "完成時限" in traditional
    tasks = import_notice(traditional).tasks
    assert {t.number: (t.lead, t.partners, t.responsible, t.deadline, t.kind) for t in tasks} == SEED_004


def test_files_in_gb18030_are_read_too() -> None:
    text = "牵头单位：司法局"
    assert read_text(text.encode("gb18030")) == text
    assert read_text(b"\xef\xbb\xbf" + text.encode()) == text
