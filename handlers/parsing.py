"""Tolerant reading of chat text: widths, brackets, Chinese numerals, `字段：值` lines."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping

import cn2an

# After NFKC, full-width colons/spaces/digits/percent signs are ASCII; 【】 and 〔〕 are not touched by NFKC.
_BRACKETS = str.maketrans({"【": "[", "】": "]", "〔": "(", "〕": ")", "「": "[", "」": "]", "『": "[", "』": "]"})
_TRAILING_PUNCT = "。.!！~～;；，,、 \t"


# C0/C1 control characters other than tab and newline: invisible in chat, NUL is refused by PostgreSQL
# outright and the others are illegal in the XLSX files the ledger is exported to.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
# Bidirectional controls (embeddings, overrides, isolates, LRM/RLM/ALM): invisible, they reorder the text that
# follows, so a name or a title could read one way to coordinators, in chat and in the exports, and hold another.
_BIDI = re.compile("[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def normalize(text: str) -> str:
    """NFKC (full-width → half-width), uniform brackets, unix newlines, no control or bidirectional-control
    characters, no blank lines or edge spaces."""
    text = _BIDI.sub("", _CONTROL.sub("", unicodedata.normalize("NFKC", text or "").translate(_BRACKETS)))
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\u200b", "").replace("\u3000", " ")
    lines = [line.strip() for line in text.split("\n")]
    return "\n".join(line for line in lines if line)


def strip_punct(text: str) -> str:
    return text.strip().strip(_TRAILING_PUNCT).strip()


ECHO_LIMIT = 30  # characters of the user's own text quoted back in a reply (then "…")


def clipped(text: str, limit: int) -> str:
    """`text`, or its first limit-1 characters and "…" when it is longer than `limit`."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def echoed(text: str) -> str:
    """The user's text as quoted back in a reply: a pasted paragraph is cut, not repeated whole."""
    return clipped(strip_punct(text), ECHO_LIMIT + 1)


def to_int(text: str) -> int | None:
    """'12', '十二', '一百零五', '两' → int; anything else → None."""
    text = strip_punct(text)
    if not text:
        return None
    if text.isdigit():
        return int(text)
    if text == "两":
        return 2
    try:
        value = cn2an.cn2an(text, "strict")
    except (ValueError, KeyError, IndexError, TypeError):
        return None
    return int(value) if float(value).is_integer() and value >= 0 else None


_NUMBER = r"(?:\d+|[零〇一二两三四五六七八九十百千]+)"
_ISSUE_NUMBER = re.compile(rf"^(?:#|第|编号|No\.?)?\s*({_NUMBER})\s*(?:号)?(?=$|\s|[,，:])", re.IGNORECASE)


def take_number(text: str) -> tuple[int | None, str]:
    """Read a leading issue number such as `#12`, `12`, `第12号`, `十二`; return it and the rest."""
    text = text.strip()
    match = _ISSUE_NUMBER.match(text)
    if not match:
        return None, text
    return to_int(match.group(1)), text[match.end():].strip(" ,，:")


_FIELD_LINE = re.compile(r"^\s*(?:\[([^\]]{1,12})\]|([^:\s\[\]]{1,12})\s*:)\s*(.*)$")


def parse_fields(text: str, aliases: Mapping[str, str]) -> tuple[dict[str, str], list[str]]:
    """Read `字段：值` / `【字段】值` lines into {canonical field: value}.

    `aliases` maps every accepted label (already normalized) to its canonical field. A line without a
    known label continues the previous field (multi-line 线索内容); before any field it is returned as
    free text.
    """
    fields: dict[str, str] = {}
    free: list[str] = []
    current: str | None = None
    for line in normalize(text).split("\n"):
        match = _FIELD_LINE.match(line)
        label = (match.group(1) or match.group(2)).strip() if match else None
        if match and label in aliases:
            current = aliases[label]
            fields[current] = match.group(3).strip()
        elif current is not None:
            fields[current] = f"{fields[current]}\n{line}".strip()
        elif line:
            free.append(line)
    return {k: v for k, v in fields.items() if v}, free


def match_choice(text: str, choices: list[str]) -> str | None:
    """Pick one of a campaign's list values (线索来源, 整治重点) from what a user typed.

    Accepts the exact value, a number from the numbered list we showed, or a value with a common suffix
    such as `方面` dropped or added (seed 000's 统计表 writes `队伍建设方面`).
    """
    typed = strip_punct(normalize(text))
    if not typed:
        return None
    number = to_int(typed)
    if number is not None and 1 <= number <= len(choices):
        return choices[number - 1]

    def bare(value: str) -> str:
        return re.sub(r"(方面|类|问题)$", "", value.replace(" ", ""))

    for choice in choices:
        if bare(choice) == bare(typed):
            return choice
    candidates = [c for c in choices if bare(typed) and (bare(typed) in bare(c) or bare(c) in bare(typed))]
    return candidates[0] if len(candidates) == 1 else None


_MOBILE = re.compile(r"^1[3-9]\d{9}$")
_LANDLINE = re.compile(r"^0\d{2,3}-?\d{7,8}(-\d{1,6})?$")


def normalize_phone(text: str) -> str | None:
    """A mainland mobile (11 digits) or a landline with area code; spaces and +86 dropped."""
    phone = re.sub(r"[\s()]", "", normalize(text))
    phone = re.sub(r"^(\+?86)(?=1\d{10}$)", "", phone)
    if _MOBILE.match(phone) or _LANDLINE.match(phone):
        return phone
    return None
