"""The corpus of public notices (tests/fixtures/notices) and how an imported plan is scored against the
expectations written by reading each one: recall, precision, and dates whose year the notice never gave."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from functools import cache
from typing import Any

import yaml

from core.dates import DateContext, Role, parse_date
from notice.model import NoticePlan, When
from notice.text import normalize_line
from tests.conftest import FIXTURES

NOTICES = FIXTURES / "notices"
_SKETCH = DateContext(campaign_start=date(2000, 1, 1), campaign_end=date(2000, 12, 31), today=date(2000, 1, 1))


@dataclass(frozen=True)
class Entry:
    file: str
    source: str
    expected: dict[str, Any]

    @property
    def text(self) -> str:
        return (NOTICES / self.file).read_text(encoding="utf-8")


@cache
def corpus() -> tuple[Entry, ...]:
    entries = yaml.safe_load((NOTICES / "corpus.yaml").read_text(encoding="utf-8"))
    return tuple(Entry(e["file"], e["source"], e) for e in entries)


def day_key(value: object) -> str | None:
    """2005-07-15 for a date, --07-15 for a date without a year, as corpus.yaml writes them."""
    if value is None:
        return None
    return value.isoformat() if isinstance(value, date) else str(value)


def when_key(when: When | None, role: Role) -> str | None:
    """What the plan says for a date: the resolved day, or the month and day its words name without a year;
    None for words that name no day (2005年春节前), which a person fills in, as for no date at all."""
    if when is None or not when.readable:
        return None
    if when.day is not None:
        return when.day.isoformat()
    sketch = parse_date(when.words, ctx=_SKETCH, role=role)
    return sketch.strftime("--%m-%d") if sketch else f"?{when.words}"


def _same_name(expected: str, found: str) -> bool:
    expected, found = normalize_line(expected), normalize_line(found)
    return expected in found or found in expected


@dataclass
class Score:
    """Facts expected and found across the corpus; `misses` and `extras` say which, for a person to read."""

    expected: int = 0
    found: int = 0
    matched: int = 0
    misses: list[str] = field(default_factory=list)
    extras: list[str] = field(default_factory=list)
    invented_years: list[str] = field(default_factory=list)

    @property
    def recall(self) -> float:
        return self.matched / self.expected if self.expected else 1.0

    @property
    def precision(self) -> float:
        found_matched = self.found - len(self.extras)
        return found_matched / self.found if self.found else 1.0

    def add(self, entry: Entry, plan: NoticePlan) -> None:
        expected = entry.expected
        facts = _facts(plan)
        wanted = _wanted(expected)
        self.expected += len(wanted)
        self.found += len(facts)
        used: set[int] = set()
        for want in wanted:
            hit = next((i for i, fact in enumerate(facts) if i not in used and _matches(want, fact)), None)
            if hit is None:
                self.misses.append(f"{entry.file}: {want}")
            else:
                used.add(hit)
                self.matched += 1
        self.extras.extend(f"{entry.file}: {fact}" for i, fact in enumerate(facts) if i not in used)
        self.invented_years.extend(f"{entry.file}: {fact}" for fact in facts if _invents_year(fact, entry.text))


def _wanted(expected: dict[str, Any]) -> list[tuple[Any, ...]]:
    wanted: list[tuple[Any, ...]] = []
    for phase in expected.get("phases", []):
        wanted.append(("phase", phase["name"], day_key(phase.get("start")), day_key(phase["end"])))
    for item in expected.get("deliverables", []):
        wanted.append(("deliverable", item["name"], day_key(item["due"]), item.get("to")))
    if "weekly" in expected:
        wanted.append(("weekly", expected["weekly"]))
    if "monthly" in expected:
        wanted.append(("monthly", expected["monthly"]))
    if "span" in expected:
        wanted.append(("span", day_key(expected["span"].get("start")), day_key(expected["span"].get("end"))))
    return wanted


def _facts(plan: NoticePlan) -> list[tuple[Any, ...]]:
    facts: list[tuple[Any, ...]] = []
    for phase in plan.phases:
        facts.append(("phase", phase.name.value, when_key(phase.start, "start"), when_key(phase.end, "end")))
    for item in plan.deliverables:
        if not item.due.words.startswith("每月"):
            facts.append(("deliverable", item.name, when_key(item.due, "end"), item.to))
    if plan.weekly:
        facts.append(("weekly", plan.weekly.weekday))
    facts.extend(("monthly", rule.day) for rule in plan.monthly)
    if plan.start or plan.end:
        facts.append(("span", when_key(plan.start, "start"), when_key(plan.end, "end")))
    if plan.target:
        facts.append(("target", plan.target.rate, when_key(plan.target.by, "end")))
    return facts


def _matches(want: tuple[Any, ...], fact: tuple[Any, ...]) -> bool:
    if want[0] != fact[0]:
        return False
    if want[0] == "phase":
        return _same_name(want[1], fact[1]) and want[2:] == fact[2:]
    if want[0] == "deliverable":
        to_ok = want[3] is None or (fact[3] is not None and _same_name(want[3], fact[3]))
        return normalize_line(want[1]) in normalize_line(fact[1]) and want[2] == fact[2] and to_ok
    return want == fact


def _invents_year(fact: tuple[Any, ...], text: str) -> bool:
    """A resolved date whose year the notice never writes (as 2005年, 2005-, 〔2005〕 or in Chinese numerals)."""
    years = {int(y) for y in re.findall(r"(?<![0-9])((?:19|20)[0-9]{2})(?![0-9])", normalize_line(text))}
    years |= {int(y) for y in _chinese_years(text)}
    stated = [v for v in fact[1:] if isinstance(v, str) and re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", v)]
    return any(int(v[:4]) not in years for v in stated)


def _chinese_years(text: str) -> list[str]:
    digits = str.maketrans("〇○零一二三四五六七八九", "000123456789")
    return [m.translate(digits) for m in re.findall(r"[〇○零一二三四五六七八九]{4}(?=年)", text)]
