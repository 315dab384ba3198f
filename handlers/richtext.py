"""A tiny document model for replies that exist as plain text and as markdown.

Handlers build a `Doc` once and render it twice, so the plain and markdown versions can never say
different things. The markdown is the subset WeCom and DingTalk both render: `###` titles, `**bold**`,
`- ` lists and `> ` quotes, with two spaces before each line break (DingTalk joins lines otherwise).
"""

from __future__ import annotations

from dataclasses import dataclass, field

# User text (unit names, issue titles) must not open markup: these characters become their full-width
# forms, which read the same in Chinese text. Backslash escapes are not honoured by WeCom's renderer.
_MARKDOWN_SAFE = str.maketrans(
    {"*": "＊", "_": "＿", "[": "［", "]": "］", "<": "＜", ">": "＞", "`": "｀", "~": "～", "|": "｜"}
)
_BREAK = "  "  # before the newline that joins the lines: a hard line break


def escape_markdown(text: str) -> str:
    return text.translate(_MARKDOWN_SAFE)


def _line_start(text: str) -> str:
    """Text that begins a markdown line must not begin a heading (an issue line reads "#12 …")."""
    escaped = escape_markdown(text)
    return "＃" + escaped[1:] if escaped.startswith("#") else escaped


@dataclass(frozen=True)
class Field:
    """`label：value` — a headline number."""

    label: str
    value: str


@dataclass(frozen=True)
class Heading:
    """The start of a list: `text：`."""

    text: str


@dataclass(frozen=True)
class Item:
    """One entry of the list above it."""

    text: str


@dataclass(frozen=True)
class Line:
    """A sentence on its own line."""

    text: str


@dataclass(frozen=True)
class Link:
    """An address on its own line: `label：url` in plain text, a link in markdown."""

    label: str
    url: str


Block = Field | Heading | Item | Line | Link


@dataclass
class Doc:
    title: str
    blocks: list[Block] = field(default_factory=list)

    def add(self, *blocks: Block) -> Doc:
        self.blocks.extend(blocks)
        return self

    def plain(self) -> str:
        lines = [self.title]
        for block in self.blocks:
            match block:
                case Field(label, value):
                    lines.append(f"{label}：{value}")
                case Heading(text):
                    lines.append(f"{text}：")
                case Item(text):
                    lines.append(f"· {text}")
                case Line(text):
                    lines.append(text)
                case Link(label, url):
                    lines.append(f"{label}：{url}")
        return "\n".join(lines)

    def markdown(self) -> str:
        out = [f"### {escape_markdown(self.title)}"]
        previous: Block | None = None
        for block in self.blocks:
            if isinstance(previous, Item) and not isinstance(block, Item):
                out.append("")  # a blank line ends the list; otherwise the next line joins its last item
            match block:
                case Field(label, value):
                    out.append(f"**{escape_markdown(label)}**：{escape_markdown(value)}{_BREAK}")
                case Heading(text):
                    out.append(f"**{escape_markdown(text)}**{_BREAK}")
                case Item(text):
                    out.append(f"- {escape_markdown(text)}")
                case Line(text):
                    out.append(f"{_line_start(text)}{_BREAK}")
                case Link(label, url):
                    out.append(f"[{escape_markdown(label)}]({url}){_BREAK}")
            previous = block
        return "\n".join(out)
