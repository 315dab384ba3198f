"""Tolerant reading of chat text (docs/chat-grammar.md): widths, brackets, numerals, field lines, command words."""

from __future__ import annotations

import pytest

from handlers.parsing import Vocabulary, match_choice, normalize, normalize_phone, read_fields, take_number, to_int
from handlers.reading import match_command

FOCUS = ["制度建设", "履行职责", "回应群众诉求", "队伍建设", "责任追究"]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("１２", 12),
        ("十二", 12),
        ("一百零五", 105),
        ("两", 2),
        ("0", 0),
        ("十二个", None),
        ("abc", None),
        ("", None),
    ],
)
def test_to_int(raw: str, expected: int | None) -> None:
    assert to_int(raw) == expected


@pytest.mark.parametrize(
    ("raw", "number", "rest"),
    [
        ("#12 60% 说明", 12, "60% 说明"),
        ("12 已整改", 12, "已整改"),
        ("第12号 整改中", 12, "整改中"),
        ("十二 50%", 12, "50%"),
        ("No.7 完成", 7, "完成"),
        ("已整改", None, "已整改"),
    ],
)
def test_take_number(raw: str, number: int | None, rest: str) -> None:
    assert take_number(raw) == (number, rest)


def test_normalize_widths_brackets_and_blank_lines() -> None:
    assert normalize("【登记】\r\n\r\n单位：　法制科 \n\n") == "[登记]\n单位: 法制科"


def test_normalize_drops_control_characters() -> None:
    assert normalize("周报\x00 本周\x0b工作\x1f\t完成") == "周报 本周工作\t完成"


def test_read_fields_reads_labels_aliases_and_continuation_lines() -> None:
    vocabulary = Vocabulary.of(
        [("title", ("线索名称", "名称"), False), ("content", ("线索内容",), True), ("remark", ("备注",), True)]
    )
    found = read_fields("前言\n【名称】证件过期\n线索内容：第一行\n第二行\n备注：", vocabulary)
    assert found.values == {"title": "证件过期", "content": "第一行\n第二行"}
    assert found.free == "前言"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("队伍建设", "队伍建设"),
        ("队伍建设方面", "队伍建设"),
        ("4", "队伍建设"),
        ("四", "队伍建设"),
        ("回应群众诉求 方面", "回应群众诉求"),
        ("建设", None),
        ("9", None),
        ("", None),
    ],
)
def test_match_choice(raw: str, expected: str | None) -> None:
    assert match_choice(raw, FOCUS).value == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("13909551234", "13909551234"),
        ("139 0955 1234", "13909551234"),
        ("+86 13909551234", "13909551234"),
        ("0955-7655608", "0955-7655608"),
        ("１３９０９５５１２３４", "13909551234"),
        ("12345", None),
        ("2390955123", None),
    ],
)
def test_normalize_phone(raw: str, expected: str | None) -> None:
    assert normalize_phone(raw) == expected


@pytest.mark.parametrize(
    ("text", "keyword", "rest"),
    [
        ("我的问题", "我的问题", ""),
        ("问题\n线索名称：x", "问题", "线索名称:x"),
        ("进展#12 60%", "进展", "#12 60%"),
        ("周报：本周", "周报", "本周"),
        ("未报送", "未报送", ""),
        ("报送 联系人", "报送", "联系人"),
        ("【汇总】 法制科", "汇总", "法制科"),
        ("HELP", "帮助", ""),
    ],
)
def test_match_command(text: str, keyword: str, rest: str) -> None:
    command, remainder = match_command(normalize(text))
    assert command is not None and keyword in command.words and remainder == rest


@pytest.mark.parametrize("text", ["问题清单怎么填", "周报告", "你好", "汇总表"])
def test_words_that_merely_start_like_a_command_are_not_commands(text: str) -> None:
    assert match_command(text)[0] is None
