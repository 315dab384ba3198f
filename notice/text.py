"""A notice as published, made readable: one normalised line per line of the file, joined into paragraphs.

Real notices come from web pages, Word files and PDF conversion: traditional characters, full- and
half-width punctuation, spaces between every word (6 月 25 日), sentences broken over several lines,
OCR look-alikes such as (ニ) and 自査. Every extractor works on the normalised text and still knows the
line of the file each character came from, so that the plan can say where each value was read.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import cache
from itertools import pairwise

import opencc

# Katakana that OCR returns for Chinese characters of the same shape; no notice uses katakana. And the CJK
# radical forms that PDFs printed by Chromium (Skia with Noto CJK) map some characters to — 部⻔, ⼈⺠ —
# which NFKC leaves alone (it does fold the Kangxi radicals, ⽉ → 月).
_LOOKALIKES = str.maketrans(
    {
        "ニ": "二",
        "ー": "一",
        "ロ": "口",
        "エ": "工",
        "カ": "力",
        "ハ": "八",
        "⺠": "民",
        "⻔": "门",
        "⻓": "长",
        "⻅": "见",
        "⻋": "车",
        "⻛": "风",
        "⻜": "飞",
        "⻢": "马",
        "⻥": "鱼",
        "⻬": "齐",
        "⻰": "龙",
        "⻳": "龟",
        "⻘": "青",
        "⻚": "页",
        "⻉": "贝",
        "⻆": "角",
        "⻄": "西",
        "⺟": "母",
        "⻩": "黄",
        "⻣": "骨",
        "⻨": "麦",
        "⻝": "食",
        "⻧": "卤",
        "⺁": "厂",
        "⺇": "几",
        "⺌": "小",
        "⻊": "足",
        "⻤": "鬼",
    }
)
# (-) and (一) are the same heading once a PDF has been through OCR.
_DASH_NUMERAL = re.compile(r"^\((?:-|—|–)\)")
_NOISE = re.compile(r"\[bookmark:[^\]]*\]|\*\*")  # Word bookmarks and Markdown bold left by converters
_SPACES = re.compile(r"[^\S\t]+")  # any whitespace but tabs, which separate table columns

# Where one paragraph ends and the next begins, even if the previous line had no full stop.
HEADING = re.compile(
    r"^(?:[一二三四五六七八九十]+、|\([一二三四五六七八九十]+\)|[0-9]{1,3}[.、](?![0-9])|\([0-9]{1,3}\)"
    r"|附件|[^\s:：]{2,8}[:：])"
)
_SENTENCE_END = "。;；!?！？:："
_WRAPPED_LINE = 20  # a PDF line broken mid-sentence is a full line; titles and headings are shorter
# A line that names a document or a table is a title, however long: 工作方案, 问题清单, 统计表.
_TITLE_END = re.compile(r"(?:方案|通知|意见|办法|细则|规定|要点|清单|表|联系人|名单)$")
_LABEL = re.compile(r"^[^\s:]{2,8}:")
# (五)总结巩固阶段(2011年2月-2011年10月上旬): a numbered heading closed by its bracket is a line of its own.
_BRACKETED_HEADING = re.compile(
    r"^(?:[一二三四五六七八九十]+、|\([一二三四五六七八九十]+\)|[0-9]{1,3}[.、]"
    r"|第[一二三四五六七八九十]+)"
    r"[^。;]*\([^()]*\)$"
)
DATE_LINE = re.compile(r"^[0-9]{4}年[0-9]{1,2}月[0-9]{1,2}日$")  # the date under the signature


@cache
def _to_simplified() -> opencc.OpenCC:
    return opencc.OpenCC("t2s")


def normalize_line(raw: str) -> str:
    """One line in the form every extractor expects.

    Traditional characters become simplified with OpenCC (the reference converter, phrase-aware, so 乾隆
    stays and 自査 becomes 自查); NFKC makes full-width digits and punctuation ASCII; spaces go, except
    between two ASCII letters or digits (附件1 6月10日, 检查 and 例行督察), and tabs stay.
    """
    text = unicodedata.normalize("NFKC", _to_simplified().convert(raw)).translate(_LOOKALIKES)
    text = _NOISE.sub("", text).strip()
    text = _DASH_NUMERAL.sub("(一)", text)

    def squeeze(match: re.Match[str]) -> str:
        before = text[match.start() - 1] if match.start() else ""
        after = text[match.end()] if match.end() < len(text) else ""
        keep = before.isascii() and after.isascii() and before.isalnum() and after.isalnum()
        return " " if keep or (before.isalpha() and before.isascii()) or (after.isalpha() and after.isascii()) else ""

    return _SPACES.sub(squeeze, text)


@dataclass(frozen=True)
class Paragraph:
    """Consecutive lines that form one paragraph; `starts` maps offsets in `text` to file line numbers."""

    text: str
    starts: tuple[tuple[int, int], ...]  # (offset where a file line begins, its 1-based line number)

    @property
    def line(self) -> int:
        return self.starts[0][1]

    def line_at(self, offset: int) -> int:
        """The file line the character at `offset` came from."""
        line = self.starts[0][1]
        for start, number in self.starts:
            if start > offset:
                break
            line = number
        return line

    def lines(self, start: int, end: int) -> tuple[int, int]:
        return self.line_at(start), self.line_at(max(start, end - 1))


@dataclass(frozen=True)
class Notice:
    """The normalised lines of a notice (index i is file line i + 1) and its paragraphs."""

    lines: tuple[str, ...]
    paragraphs: tuple[Paragraph, ...]

    def line(self, number: int) -> str:
        return self.lines[number - 1]


def _continues(previous: str, following: str) -> bool:
    """Does `following` continue the sentence `previous` broke off (PDF conversion wraps lines)?"""
    if previous.count("(") > previous.count(")"):  # (责 | 任单位:…) broken inside a bracket
        return True
    if not previous or previous[-1] in _SENTENCE_END or len(previous) < _WRAPPED_LINE:
        return False
    if (
        _TITLE_END.search(previous)
        or _LABEL.match(previous)
        or DATE_LINE.match(following)
        or _BRACKETED_HEADING.match(previous)
    ):
        return False
    return not HEADING.match(following) and "\t" not in previous and "\t" not in following


def read_notice(raw_text: str) -> Notice:
    """Normalise every line and join wrapped lines into paragraphs (blank lines between them do not count)."""
    lines = tuple(normalize_line(line) for line in raw_text.replace("\r\n", "\n").replace("\r", "\n").split("\n"))
    numbered = [(i + 1, text) for i, text in enumerate(lines) if text]
    paragraphs: list[Paragraph] = []
    current: list[tuple[int, str]] = []
    for (number, text), following in pairwise([*numbered, (0, "")]):
        current.append((number, text))
        if following[1] and _continues(text, following[1]):
            continue
        offset, starts = 0, []
        for line_number, line_text in current:
            starts.append((offset, line_number))
            offset += len(line_text)
        paragraphs.append(Paragraph("".join(t for _, t in current), tuple(starts)))
        current = []
    return Notice(lines, tuple(paragraphs))


def split_sentences(paragraph: Paragraph) -> list[tuple[int, int]]:
    """(start, end) offsets of the sentences of a paragraph: split after 。 ; ! ?, brackets respected."""
    spans: list[tuple[int, int]] = []
    depth, start = 0, 0
    for index, ch in enumerate(paragraph.text):
        if ch in "(《〔[":
            depth += 1
        elif ch in ")》〕]" and depth:
            depth -= 1
        elif ch in "。;!?" and depth == 0:
            spans.append((start, index + 1))
            start = index + 1
    if start < len(paragraph.text):
        spans.append((start, len(paragraph.text)))
    return [(a, b) for a, b in spans if paragraph.text[a:b].strip("。;!? ")]


_DISPLAY = str.maketrans({",": "，", ";": "；", ":": "：", "(": "（", ")": "）", "!": "！", "?": "？"})


def display(text: str) -> str:
    """Chinese punctuation back for text a person reads (NFKC made it ASCII), except between ASCII characters
    (0955-7655608, 12:00)."""
    out = []
    for index, ch in enumerate(text):
        before = text[index - 1] if index else ""
        after = text[index + 1] if index + 1 < len(text) else ""
        ascii_context = before.isascii() and before.isalnum() and after.isascii() and after.isalnum()
        out.append(ch if ascii_context else ch.translate(_DISPLAY))
    return "".join(out)
