"""Properties of the notice importer's date reading: it never raises, and never gives a date for text
without one (it must never invent a date)."""

from __future__ import annotations

import unicodedata
from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.dates import DateContext
from core.statuses import TaskDeadlineKind
from notice import import_notice
from notice.writer import render_plan
from plan.deadlines import classify_task_deadline

pytestmark = pytest.mark.slow  # Hypothesis: make test-quick leaves it out

PROPERTIES = settings(max_examples=200, deadline=None, database=None)
CTX = DateContext(campaign_start=date(2024, 1, 1), campaign_end=date(2025, 12, 31), today=date(2024, 1, 1))
DATE_CHARACTERS = set("〇○零一二三四五六七八九十廿月年天日")
# Pieces of real notices, shuffled: headings, deadlines, fields, numbering, noise.
PIECES = [
    "（一）",
    "(二)",
    "1.",
    "12、",
    "安排部署阶段",
    "（6月10日前）",
    "于",
    "前",
    "报送",
    "联系人",
    "（附件1）",
    "。",
    "；",
    "，",
    "\n",
    "\n\n",
    "牵头单位：",
    "责任单位：",
    "各乡镇〔街道〕",
    "司法局",
    "完成时限：",
    "长期坚持",
    "每年2月底前",
    "2024年3月底前并长期坚持",
    "每周五上午报送",
    "完成90%以上的整改任务",
    "每月25日前",
    "自2020年6月初至11月底",
    "6月上旬至9月下旬",
    "线索来源项填写",
    "信访举报、媒体曝光",
    "卫法办发〔2020〕13号",
    "2020年6月4日",
    "整治重点\t制度建设方面",
    "(ニ)",
    "自査",
    "牽頭單位",
]


def has_date_characters(text: str) -> bool:
    return any(c.isdigit() or c in DATE_CHARACTERS for c in unicodedata.normalize("NFKC", text))


@PROPERTIES
@given(text=st.text())
def test_task_deadlines_never_raise(text: str) -> None:
    classify_task_deadline(text, CTX)


@PROPERTIES
@given(text=st.text().filter(lambda t: not has_date_characters(t)))
def test_task_deadlines_without_date_characters_have_no_date(text: str) -> None:
    kind, due, yearly = classify_task_deadline(text, CTX)
    assert due is None and yearly is None
    assert kind in (TaskDeadlineKind.ONGOING, TaskDeadlineKind.UNKNOWN)


@PROPERTIES
@given(text=st.lists(st.sampled_from(PIECES), max_size=40).map("".join) | st.text(max_size=300))
def test_import_never_raises_and_renders(text: str) -> None:
    render_plan(import_notice(text))


@PROPERTIES
@given(text=st.text(max_size=300).filter(lambda t: not has_date_characters(t)))
def test_import_invents_no_date_for_text_without_one(text: str) -> None:
    plan = import_notice(text)
    whens = [
        plan.start,
        plan.end,
        plan.notice_date,
        *(d.due for d in plan.deliverables),
        *(w for p in plan.phases for w in (p.start, p.end)),
    ]
    assert all(w is None or w.day is None for w in whens)
    assert plan.year is None and plan.target is None
