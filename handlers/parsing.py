"""Tolerant reading of chat text: widths, brackets, numerals, labelled fields, phones, choices, references.

Everything here is pure (no database, no campaign): every command of every channel reads its message
through these functions (handlers.reading.read_message puts them together), and bench/parse.py times
them over the chat corpus.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import cn2an
from rapidfuzz import fuzz, process

from core.statuses import STATUS_TEXT, IssueStatus

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


NUMBER = r"(?:\d+|[零〇一二两三四五六七八九十百千]+)"
_LEADING_NUMBER = re.compile(rf"^(?:#|第|编号|No\.?)?\s*({NUMBER})\s*(?:号|条|项)?(?=$|\s|[,，:、])", re.IGNORECASE)


def take_number(text: str) -> tuple[int | None, str]:
    """A leading number such as `3`, `#3`, `第3条`, `三`, and the rest (登记号 of 批准 3 理由)."""
    text = text.strip()
    match = _LEADING_NUMBER.match(text)
    if not match:
        return None, text
    return to_int(match.group(1)), text[match.end() :].strip(" ,，:、")


# --- labelled fields -----------------------------------------------------------------------------------

SEPARATORS = " \t,;、"  # after NFKC: the full-width space, ，and ；are among these


def label_key(label: str) -> str:
    """How labels are compared: no spaces, asterisks (必填 marks) or hyphens (E-mail), case-folded."""
    return re.sub(r"[\s*\-_]", "", label).casefold()


@dataclass(frozen=True)
class Vocabulary:
    """The field labels one command understands: each accepted label (synonyms included) → its field key.

    `multiline` fields hold prose (线索内容, 整改措施 …): inside them only an exact known label starts a new
    field, so that 经查：… or 其中：… stay part of the text.
    """

    labels: Mapping[str, str]
    multiline: frozenset[str] = frozenset()
    by_length: tuple[str, ...] = field(default=(), compare=False)

    @classmethod
    def of(cls, entries: Iterable[tuple[str, Iterable[str], bool]]) -> Vocabulary:
        """From (field key, its labels, is multiline) entries."""
        labels: dict[str, str] = {}
        multiline = set()
        for key, names, prose in entries:
            for name in names:
                labels[label_key(name)] = key
            if prose:
                multiline.add(key)
        return cls(labels, frozenset(multiline), tuple(sorted(labels, key=len, reverse=True)))

    def key(self, typed: str) -> str | None:
        return self.labels.get(label_key(typed))

    def suffix(self, typed: str) -> tuple[str, int] | None:
        """(field key, length of the label) of the longest known label `typed` ends with (办公电话 → 电话)."""
        typed = label_key(typed)
        for label in self.by_length:
            if len(typed) > len(label) and typed.endswith(label):
                return self.labels[label], len(label)
        return None


@dataclass
class FieldsRead:
    """What a message says: labelled values, the text before any label, and labels nobody knows."""

    values: dict[str, str]
    free: str
    unknown: list[str]


_COLON_LABEL = re.compile(r"([^\s:,;、\[\]]{1,40})\s*:(?!//)")  # not http://
_BRACKET_LABEL = re.compile(r"\[([^\[\]\n]{1,12})\]")
_LABEL_SHAPE = re.compile(r"[\u4e00-\u9fff]{1,8}")  # what an unknown label looks like: a short Chinese word
_DROPPED = "\x00dropped"  # the value of an unknown label: read past, kept nowhere


@dataclass(frozen=True)
class _Mark:
    start: int  # where the label begins (the previous value ends here)
    value_start: int
    key: str | None  # None: a label the vocabulary does not know
    typed: str


def _marks(line: str, vocabulary: Vocabulary, current: str | None) -> list[_Mark]:
    """The labels of one line, left to right, decided with the field each one would interrupt."""
    candidates = sorted(
        [(m.start(), m.end(), m.group(1).strip(), True) for m in _BRACKET_LABEL.finditer(line)]
        + [(m.start(), m.end(), m.group(1), False) for m in _COLON_LABEL.finditer(line)]
    )
    marks: list[_Mark] = []
    covered = 0
    for start, end, typed, bracketed in candidates:
        if start < covered:
            continue
        prose = current in vocabulary.multiline
        # A token right after a label's colon or bracket has no separator before it: 单位:食安科姓名:王芳.
        glued = start > 0 and line[start - 1] in ":]"
        label_at, key = start, vocabulary.key(typed)
        if key is None and not prose:
            found = vocabulary.suffix(typed)
            if found is not None:
                key = found[0]
                # Glued, the front of the token is the previous value; apart, it qualifies the label (本人电话).
                label_at = start + (len(typed) - found[1] if glued and not bracketed else 0)
        if key is None and (prose or glued or not _LABEL_SHAPE.fullmatch(typed)):
            continue  # not a label: part of the value (17:00, 经查：…)
        marks.append(_Mark(label_at, end, key, typed))
        covered = end
        current = key or _DROPPED
    return marks


def _clean_value(text: str, prose: bool, *, label_follows: bool) -> str:
    """A value without the separators around it (before the next label); a short value loses trailing
    punctuation too (王芳。), prose keeps its own (一、…；)."""
    text = text.strip().removeprefix(":").strip()
    if label_follows or not prose:
        text = text.rstrip(SEPARATORS)
    return text if prose else text.rstrip(_TRAILING_PUNCT).strip()


def read_fields(text: str, vocabulary: Vocabulary, *, current: str | None = None) -> FieldsRead:
    """Read `字段：值` fields one per line or several on a line (separated by spaces, ，、；), labelled
    `字段：值`, `字段:值`, `【字段】值` or `[字段]值`, in any order.

    `current` is the field a question asked for: text before any label answers it. Without one, that text
    is returned as `free`. A line without a label continues the field above it (a multi-line 线索内容).
    """
    values: dict[str, str] = {}
    free: list[str] = []
    unknown: list[str] = []
    for line in normalize(text).split("\n"):
        marks = _marks(line, vocabulary, current)
        head = _clean_value(
            line[: marks[0].start if marks else len(line)], current in vocabulary.multiline, label_follows=bool(marks)
        )
        if head:
            if current is None:
                free.append(head)
            elif current != _DROPPED:
                values[current] = f"{values[current]}\n{head}" if values.get(current) else head
        for index, mark in enumerate(marks):
            end = marks[index + 1].start if index + 1 < len(marks) else len(line)
            value = _clean_value(
                line[mark.value_start : end], mark.key in vocabulary.multiline, label_follows=index + 1 < len(marks)
            )
            if mark.key is None:
                unknown.append(mark.typed)
                current = _DROPPED
                continue
            values[mark.key] = value
            current = mark.key
    return FieldsRead({k: v for k, v in values.items() if v}, "\n".join(free), unknown)


# --- choices --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChoiceMatch:
    """A value picked from a campaign's list: `value` when certain, else `suggestions` to confirm."""

    value: str | None
    suggestions: tuple[str, ...] = ()


def _bare(value: str) -> str:
    return re.sub(r"(方面|类|问题)$", "", value.replace(" ", ""))


def synonyms(table: Mapping[str, str]) -> dict[str, str]:
    """{value: "word word …"} → {word: value}: the words people write for a list value."""
    return {word: value for value, words in table.items() for word in words.split()}


FUZZY_CUTOFF = 50  # rapidfuzz WRatio: 群众举报 ~ 信访举报 scores 50, unrelated four-character names ~0-30


def match_choice(text: str, choices: list[str], synonyms: Mapping[str, str] | None = None) -> ChoiceMatch:
    """Pick one of a campaign's list values (线索来源, 整治重点, 报送事项) from what a user typed.

    Certain: the exact value, a number from the numbered list we showed, the value with a common suffix
    such as `方面` dropped or added (seed 000's 统计表 writes `队伍建设方面`), or a part of exactly one value.
    To confirm: a synonym people use (群众举报 for 信访举报) or the nearest values by spelling.
    """
    typed = strip_punct(normalize(text))
    if not typed:
        return ChoiceMatch(None)
    number = to_int(typed)
    if number is not None and 1 <= number <= len(choices):
        return ChoiceMatch(choices[number - 1])
    bare = _bare(typed)
    for choice in choices:
        if _bare(choice) == bare:
            return ChoiceMatch(choice)
    containing = [c for c in choices if bare and (bare in _bare(c) or _bare(c) in bare)]
    if len(containing) == 1:
        return ChoiceMatch(containing[0])
    if containing:
        return ChoiceMatch(None, tuple(containing))
    meant = [canonical for word, canonical in (synonyms or {}).items() if word in typed and canonical in choices]
    if meant:
        return ChoiceMatch(None, tuple(dict.fromkeys(meant)))
    near = process.extract(bare, choices, scorer=fuzz.WRatio, score_cutoff=FUZZY_CUTOFF, limit=3)
    return ChoiceMatch(None, tuple(choice for choice, _score, _ in near))


# --- phones ---------------------------------------------------------------------------------------------

_MOBILE = re.compile(r"^1[3-9]\d{9}$")
_LANDLINE = re.compile(r"^0\d{2,3}-?\d{7,8}(-\d{1,6})?$")
_EXTENSION = re.compile(r"\s*(?:转|分机|分机号|ext\.?|x)\s*(\d{1,6})$", re.IGNORECASE)


def normalize_phone(text: str) -> str | None:
    """A mainland mobile (11 digits) or a landline with its area code and optional extension.

    Accepts what people paste: `+86`, `0086`, spaces, dashes and brackets (`+86 138-0000-0010`,
    `(0955)7655608`, `0955-7655608 转 123`); a landline keeps one dash before its extension.
    """
    phone = normalize(text).replace("—", "-").replace("－", "-")
    phone = _EXTENSION.sub(r"-\1", phone)
    phone = re.sub(r"[\s()]", "", phone)
    national = re.sub(r"^(?:(?:\+|00)86-?|86(?=1[3-9]\d{9}$))", "", phone)
    if _MOBILE.match(national.replace("-", "")):
        return national.replace("-", "")
    if national != phone and not national.startswith("0"):
        national = "0" + national  # +86 955 7655608: the trunk 0 is dropped after a country code
    return national if _LANDLINE.match(national) else None


_EMAIL = re.compile(r"^[\w.+-]+@[\w-]+(\.[\w-]+)+$")


def looks_like_email(text: str) -> bool:
    return bool(_EMAIL.match(normalize(text)))


# --- references to issues and tasks, and progress words ----------------------------------------------

# `#12`, `12号`, `第12条`, `12号问题`, `问题12`, `第十二号问题`, `编号12`: an issue named in a message.
_ISSUE_REFERENCE = (
    rf"(?:\#\s*(?P<hash>{NUMBER})(?:\s*号)?"
    rf"|问题\s*(?:\#|第|编号|No\.?)?\s*(?P<after>{NUMBER})\s*(?:号|条)?"
    rf"|第\s*(?P<ordinal>{NUMBER})\s*(?:号|条|个)?(?:问题)?"
    rf"|(?:编号|No\.?)\s*(?P<label>{NUMBER})\s*(?:号|条)?(?:问题)?"
    rf"|(?P<suffix>{NUMBER})\s*(?:号|条)(?:问题)?)"
)
_ISSUE_REF = re.compile(rf"^(?:(?:整改)?进展\s*:?\s*)?{_ISSUE_REFERENCE}\s*[,:、]?\s*", re.IGNORECASE)
_PROGRESS_NUMBER = re.compile(rf"^(?:{_ISSUE_REFERENCE}|(?P<bare>{NUMBER})(?![\d%]))\s*[,:、]?\s*", re.IGNORECASE)
_TASK_REF = re.compile(
    rf"^(?:(?P<before>{NUMBER})\s*号\s*任务|第\s*(?P<ordinal>{NUMBER})\s*(?:项|号|条)\s*任务)"
    rf"\s*[,:、]?\s*"
)

_PERCENT = re.compile(
    r"^(?:(\d{1,3}(?:\.\d+)?)\s*%|百分之([零〇一二两三四五六七八九十百]+)"
    r"|([一二三四五六七八九十])成(?!员))"
)
# Longest first within each status, so that 已完成整改 is read whole, not as 已完成 + a note 整改.
STATUS_WORDS: tuple[tuple[IssueStatus, tuple[str, ...]], ...] = (
    (
        IssueStatus.RECTIFIED,
        (
            "已整改到位",
            "已完成整改",
            "整改已完成",
            "已整改完成",
            "整改完成",
            "整改到位",
            "完成整改",
            "已整改",
            "已销号",
            "已办结",
            "已完成",
            "销号",
            "办结",
            "完成",
        ),
    ),
    (IssueStatus.IN_PROGRESS, ("整改进行中", "正在整改", "整改中", "进行中", "推进中", "在整改")),
    (IssueStatus.OPEN, ("尚未整改", "还未整改", "未开始", "未整改")),
)


def _reference_number(match: re.Match[str]) -> int | None:
    return next((to_int(value) for value in match.groupdict().values() if value), None)


@dataclass(frozen=True)
class ProgressRead:
    """进展 as written: which issue, the status and/or percentage, and the note that follows."""

    number: int | None
    status: IssueStatus | None
    percent: int | None
    note: str

    def args(self) -> dict[str, object]:
        return {
            "number": self.number,
            "status": STATUS_TEXT[self.status] if self.status else None,
            "percent": self.percent,
            "note": self.note,
        }


def _starts_with_word(text: str, word: str) -> bool:
    """`已完成 证件审验` starts with the status 已完成; `已完成证件审验` is a note, not a status."""
    return text.startswith(word) and (
        len(text) == len(word)
        or not text[len(word)].isalnum()
        or _PERCENT.match(text[len(word) :].lstrip()) is not None
    )


def read_status(text: str) -> tuple[IssueStatus | None, int | None, str]:
    """A leading status word and/or percentage in either order (`已整改`, `60%`, `整改中 百分之六十`,
    `完成60%` — 60% done, not rectified), then the note."""
    status: IssueStatus | None = None
    percent: int | None = None
    rest = text.strip()
    for _ in range(2):
        match = _PERCENT.match(rest)
        if match and percent is None:
            figure, words, tenths = match.groups()
            percent = round(float(figure)) if figure else to_int(words) if words else 10 * (to_int(tenths) or 0)
            rest = rest[match.end() :].strip(" ,，:")
            continue
        word = next(((s, w) for s, words in STATUS_WORDS for w in words if _starts_with_word(rest, w)), None)
        if word and status is None:
            status, rest = word[0], rest[len(word[1]) :].strip(" ,，:")
            if status is IssueStatus.RECTIFIED and word[1].endswith("完成") and _PERCENT.match(rest):
                status = None  # 完成60%: a share done, not the whole issue
    return status, percent, strip_punct(rest)


def read_progress(rest: str) -> ProgressRead:
    """What follows 进展: an issue number in any of its forms (a bare number too), then the status."""
    rest = rest.strip()
    match = _PROGRESS_NUMBER.match(rest)
    number = _reference_number(match) if match else None
    status, percent, note = read_status(rest[match.end() :] if match else rest)
    return ProgressRead(number, status, percent, note)


# The forms that name an issue beyond doubt: a message that starts with one is about that issue.
_UNMISTAKABLE = re.compile(
    rf"^(?:\#\s*{NUMBER}|{NUMBER}\s*号问题|第\s*{NUMBER}\s*(?:条|号)"
    rf"|问题\s*(?:\#|第|编号)?\s*\d)"
)


def read_issue_reference(text: str) -> ProgressRead | None:
    """A message that is itself a progress report without the word 进展 needed: `15号问题已整改`,
    `第15条 已完成`, `#16 60%`, `问题十二 整改中`. A looser form (`12号`, `第十二`) counts only when a status
    or a percentage follows; an unmistakable one (`#12 …`, `12号问题 …`, `第12条 …`) always does, so that
    nothing starting with it is ever taken for something else (the reply then asks for the status)."""
    match = _ISSUE_REF.match(text)
    if match is None:
        return None
    status, percent, note = read_status(text[match.end() :])
    if status is None and percent is None and not _UNMISTAKABLE.match(text):
        return None
    return ProgressRead(_reference_number(match), status, percent, note)


def read_bare_reference(text: str) -> int | None:
    """The issue number of a message that is nothing but a reference (`#12`, `12号问题`, `第十二条`)."""
    match = _ISSUE_REF.match(text)
    if match is None or strip_punct(text[match.end() :]).strip("?？") or text.lstrip().startswith(("进展", "整改进展")):
        return None
    return _reference_number(match)


def read_task_reference(text: str) -> tuple[int | None, str] | None:
    """`12号任务已完成`, `第十二项任务 进展 …`: the task number and what follows, or None."""
    match = _TASK_REF.match(text)
    if match is None:
        return None
    return _reference_number(match), text[match.end() :]


# --- small talk ---------------------------------------------------------------------------------------

GREETING, THANKS, ACKNOWLEDGEMENT, FAREWELL = "greeting", "thanks", "acknowledgement", "farewell"
_SMALL_TALK = {
    GREETING: "你好 您好 你们好 大家好 在吗 在不在 在么 早上好 早安 上午好 中午好 下午好 晚上好 早 "
    "hello hi 嗨 哈喽 哈啰 老师好 领导好",
    THANKS: "谢谢 谢谢你 谢谢您 多谢 感谢 非常感谢 谢了 辛苦了 辛苦 麻烦了 thanks thankyou thx 谢谢啦 感谢感谢",
    ACKNOWLEDGEMENT: "收到 收到了 已收到 好的 好 好滴 好哒 好嘞 好的呢 嗯 嗯嗯 哦 噢 ok okay 知道了 "
    "明白 明白了 了解 清楚 晓得了 已阅 已读 行 可以 没问题 马上办 马上落实 立即落实 "
    "抓紧落实 照办 遵照执行 按要求办 是 对 对的 是的 👌 👍 🙏 💪 🤝 ✌ [强] [ok] "
    "[抱拳] [握手] [好的] [拳头] [胜利] [玫瑰] [微笑] [耶]",
    FAREWELL: "再见 拜拜 bye 回头见 晚安",
}
_SMALL_TALK_WORDS = {word: kind for kind, words in _SMALL_TALK.items() for word in words.split()}
# Honorifics a clerk adds: 收到，王科长 / 谢谢领导.
_ADDRESS = re.compile(r"^(?:[\u4e00-\u9fff]{1,3}(?:领导|老师|科长|主任|局长|队长|同志|处长|部长)|领导|老师|各位|大家)$")
_CHUNKS = re.compile(r"[\s,.!?;:、。~'\"()]+")


def _is_symbol(chunk: str) -> bool:
    """Emoji and pictographs only (👍🏻, ❤️): acknowledgements that need no words."""
    return all(unicodedata.category(ch) in ("So", "Sk", "Mn", "Cf", "Me") or ch in "\ufe0f\u200d" for ch in chunk)


def _repeated(chunk: str) -> str:
    """收到收到 → 收到, 好的好的 → 好的: people double a word for warmth."""
    for size in range(1, len(chunk) // 2 + 1):
        if len(chunk) % size == 0 and chunk[:size] * (len(chunk) // size) == chunk:
            return chunk[:size]
    return chunk


def _small_talk_chunk(chunk: str) -> list[str] | None:
    """The kinds of small talk a chunk is made of (收到收到👍, 好的谢谢领导), or None when it says anything else:
    the chunk is read as small-talk words one after another, the longest first, ending in an emoji or an
    honorific at most."""
    kind = _SMALL_TALK_WORDS.get(chunk) or _SMALL_TALK_WORDS.get(_repeated(chunk))
    if kind is not None:
        return [kind]
    kinds: list[str] = []
    rest = chunk
    while rest:
        head = max((w for w in _SMALL_TALK_WORDS if rest.startswith(w)), key=len, default="")
        if not head:
            if kinds and (_is_symbol(rest) or _ADDRESS.match(rest)):
                break
            return [ACKNOWLEDGEMENT] if not kinds and _is_symbol(rest) else None
        kinds.append(_SMALL_TALK_WORDS[head])
        rest = rest[len(head) :]
    return kinds


def _small_talk_kinds(text: str) -> list[str]:
    """The kind of each word of a message made only of small talk; empty for anything with content."""
    kinds: list[str] = []
    for chunk in _CHUNKS.split(text.casefold()):
        if not chunk:
            continue
        chunk_kinds = _small_talk_chunk(re.sub(r"[啊呀哈呢啦哦噢]+$", "", chunk) or chunk)
        if chunk_kinds is None and not _ADDRESS.match(chunk):
            return []
        kinds.extend(chunk_kinds or ())
    return kinds


def small_talk(text: str) -> str | None:
    """The kind of a greeting, thanks, acknowledgement or farewell, or None for anything with content.

    Only a whole message counts: 好的，谢谢 and 收到👍 are small talk, 好的，明天报送 is not.
    """
    kinds = _small_talk_kinds(text)
    if not kinds:
        return None
    return next((k for k in (THANKS, GREETING, FAREWELL) if k in kinds), ACKNOWLEDGEMENT)


def acknowledges(text: str) -> bool:
    """Says 收到 in some form: small talk with an acknowledgement in it (收到，谢谢领导 / 好的收到), or a message that
    starts with one (收到，明天报送)."""
    text = normalize(text)
    first = next((chunk for chunk in _CHUNKS.split(text.casefold()) if chunk), "")
    return ACKNOWLEDGEMENT in _small_talk_kinds(text) or _small_talk_kinds(first) == [ACKNOWLEDGEMENT]
