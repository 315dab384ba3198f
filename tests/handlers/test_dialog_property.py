"""The dialog property: any message sent in the middle of any dialog changes no stored data except the
field that was asked for.

Hypothesis sends one message — a corpus message, a command with hostile arguments, any text — to a user
stopped at each question of each guided dialog (and at each kind of offer), then compares every table
that holds campaign data before and after:

- while the dialog goes on, nothing stored changes, whatever the message (a command is never run as a
  write);
- a message that starts like another command (or a reference such as #4 or 4号问题) neither completes the
  dialog nor becomes any of its values — judged by a pattern of its own here, not by the bot's reader;
- a value collected earlier changes only when the reply says what it replaced;
- stored data changes only when the message completes the dialog, and then only in the dialog's own
  tables, with the values collected before;
- but a liaison's 收到 (or 好的, 已阅 …) still acknowledges the notices they were sent and have not acknowledged
  (王芳 has one outstanding in the corpus): setting those receipts' time is the one write a message may make in
  the middle of a dialog, and the reply says so. A coordinator has no dialog to be in; a liaison's 通知 is refused.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from handlers.dialogs import OFFER, SWITCH
from handlers.dispatch import Dispatcher
from handlers.message import IncomingMessage
from handlers.reading import dialog_command
from storage.db import transaction
from storage.models import Base
from storage.repos import Campaigns, Dialogs
from tests.chat_corpus import APOLOGY, CORPUS, rolled_back
from tests.conftest import Database, at
from tests.handlers.test_fuzz_chat import messages

pytestmark = pytest.mark.slow  # Hypothesis against the database: make test-quick leaves it out

NOW = at("2020-07-15 10:00")
# Bookkeeping, not campaign data: the dialog itself, the audit trail, dedupe records, the outbox.
BOOKKEEPING = {
    "dialog_states",
    "campaign_choices",
    "audit_log",
    "processed_messages",
    "outbox",
    "access_tokens",
    "scheduler_state",
}
# What a dialog writes when its last answer arrives.
WRITES = {"issue": {"issues"}, "weekly": {"weekly_reports"}, "register": {"contacts", "chat_identities", "submissions"}}
DONE = {"issue": ("已登记问题",), "weekly": ("周报",), "register": ("已提交登记", "登记成功", "联络员信息")}

ISSUE_ANSWERS = ["执法文书格式不统一", "专项检查", "制度建设", "文书格式五花八门", "统一格式", "全部规范", "马强"]
ONE_LINE_ISSUE = (
    "问题 线索名称：执法文书格式不统一 线索来源：专项检查 整治重点：制度建设 线索内容：文书格式五花八门 "
    "整改措施：统一格式 整改目标：全部规范 责任人：马强 完成时限："
)


@dataclass(frozen=True)
class Position:
    """A user stopped in a dialog: who, and the messages that brought them there."""

    name: str
    who: str
    opening: tuple[str, ...]


POSITIONS = [
    *(Position(f"issue-{n}", "MaQiang", ("问题", *ISSUE_ANSWERS[:n])) for n in range(len(ISSUE_ANSWERS) + 1)),
    Position("issue-date-offer", "MaQiang", (ONE_LINE_ISSUE + "6月30日",)),
    Position(
        "issue-duplicate-offer",
        "MaQiang",
        (ONE_LINE_ISSUE.replace("执法文书格式不统一", "辅助人员单独执法") + "9月30日",),
    ),
    Position("issue-choice-offer", "MaQiang", ("问题 线索名称：执法文书格式不统一 线索来源：群众举报 整治重点：作风",)),
    Position("issue-switch-offer", "MaQiang", ("问题", "执法文书格式不统一", "统计 队伍建设 处理5人")),
    Position("weekly", "MaQiang", ("周报",)),
    Position("weekly-replacing", "LuHeJian", ("周报",)),
    Position("weekly-notice-outstanding", "WangFang", ("周报",)),
    Position("weekly-switch-offer", "MaQiang", ("周报", "进展 4 已整改")),
    *(Position(f"register-{n}", "XinRen", ("登记", *["耕地保护科", "钱七", "科员"][:n])) for n in range(4)),
    Position("register-update", "WangFang", ("登记",)),
]

CORPUS_TEXTS = sorted({entry.text for entry in CORPUS.entries} | {t for e in CORPUS.entries for t in e.before})
COMMAND_WORDS = (
    "登记",
    "问题",
    "进展",
    "我的问题",
    "周报",
    "统计",
    "报送",
    "帮助",
    "汇总",
    "逾期",
    "未报送",
    "批准",
    "驳回",
    "我的任务",
    "任务",
    "通知",
    "回执",
    "继续",
    "切换",
    "确认",
    "#4",
    "4号问题",
    "第5条",
)
MESSAGES = st.one_of(st.sampled_from(CORPUS_TEXTS), messages(COMMAND_WORDS), st.text(max_size=60))
PROPERTY = settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)

Snapshot = dict[str, frozenset[tuple[str, ...]]]

OWN_WORDS = {"issue": ("问题", "新问题", "登记问题"), "weekly": ("周报",), "register": ("登记", "注册")}
COMMAND_START = re.compile(
    r"^[\[【]?(登记问题|新问题|登记|注册|我的问题|问题|进展|周报|统计|未报送|报送|汇总|逾期|"
    r"批准|驳回|我的任务|任务|通知|回执|帮助)(?:[\]】\s:：,，#第\d]|$)"
)
REFERENCE_START = re.compile(r"^(?:[#＃]\s*\d|\d+\s*号问题|第\s*\d+\s*条)")


def looks_like_another_command(text: str, kind: str) -> bool:
    """An oracle independent of handlers.reading: starts with a command word other than the dialog's own,
    or with an issue reference."""
    stripped = text.strip()
    found = COMMAND_START.match(stripped)
    return (found is not None and found.group(1) not in OWN_WORDS[kind]) or bool(REFERENCE_START.match(stripped))


def snapshot(session: Session) -> Snapshot:
    """Every row of every table that holds campaign data, as text."""
    return {
        table.name: frozenset(tuple(str(v) for v in row) for row in session.execute(select(table)))
        for table in Base.metadata.sorted_tables
        if table.name not in BOOKKEEPING
    }


def only_acknowledged(before: Snapshot, after: Snapshot) -> bool:
    """The receipts are the same rows, some of them given the time of an acknowledgement they did not have."""
    old = {row[0]: row for row in before["notice_receipts"]}
    new = {row[0]: row for row in after["notice_receipts"]}
    return old.keys() == new.keys() and all(
        old[key] == new[key] or (old[key][:-1] == new[key][:-1] and old[key][-1] == "None") for key in old
    )


def dialog_of(session: Session, who: str) -> tuple[str | None, dict[str, Any]]:
    campaign = Campaigns(session).current(CORPUS.campaigns[0].name)
    assert campaign is not None
    saved = Dialogs(session).get(campaign, "wecom", who)
    return (saved.kind, dict(saved.fields)) if saved is not None else (None, {})


_ids = itertools.count()


def send(sessions: sessionmaker[Session], who: str, text: str) -> str:
    reply = Dispatcher(sessions).handle(IncomingMessage("wecom", who, text, NOW, message_id=f"prop-{next(_ids)}"))
    joined = "\n".join(reply.texts)
    assert joined.strip() and APOLOGY not in joined, f"no proper reply to {text!r}"
    return joined


def check(sessions: sessionmaker[Session], position: Position, text: str) -> None:
    for opening in position.opening:
        send(sessions, position.who, opening)
    with transaction(sessions) as session:
        kind, state = dialog_of(session, position.who)
        before = snapshot(session)
    assert kind is not None, f"{position.name} left no dialog"
    reply = send(sessions, position.who, text)
    with transaction(sessions) as session:
        after_kind, after_state = dialog_of(session, position.who)
        after = snapshot(session)
    changed = {name for name in before if before[name] != after[name]}
    if "notice_receipts" in changed:
        assert only_acknowledged(before, after), f"{text!r} changed receipts beyond acknowledging them"
        assert "已确认收到通知" in reply, f"{text!r} acknowledged a notice without saying so: {reply}"
        changed.discard("notice_receipts")
    collected = {k: v for k, v in state.items() if not k.startswith("_")}
    if looks_like_another_command(text, kind):
        assert not changed, f"the command {text!r} changed {changed} from {position.name}"
        kept = {k: v for k, v in after_state.items() if not k.startswith("_")}
        assert after_kind != kind or all(kept.get(k) in (v, None) for k, v in collected.items()), (
            f"the command {text!r} became a value of {position.name}: {kept}"
        )
        assert after_kind != kind or not (set(kept) - set(collected)), (
            f"the command {text!r} became a value of {position.name}: {kept}"
        )
    if after_kind == kind:
        assert not changed, f"{text!r} changed {changed} while {position.name} went on"
        spec = dialog_command(kind).dialog  # type: ignore[union-attr]
        for key, value in collected.items():
            if after_state.get(key) not in (value, None):
                assert f"「{spec.field(key).label}」已由" in reply, f"{key} replaced silently by {text!r}"  # type: ignore[union-attr]
        return
    if not changed or (text.strip() == SWITCH and OFFER in state):
        return  # 切换 answers the offer to drop the dialog and run the command held back: asked for, not a slip
    assert kind in WRITES and changed <= WRITES[kind], f"{text!r} changed {changed} from {position.name}"
    assert any(word in reply for word in DONE[kind]), f"stored data changed without the dialog completing: {reply}"
    if kind == "issue":
        (new,) = after["issues"] - before["issues"]
        spec = dialog_command(kind).dialog  # type: ignore[union-attr]
        for key, value in collected.items():
            if key in ("title", "source", "content", "measures", "goal") and value not in new:
                assert f"「{spec.field(key).label}」已由" in reply, f"{value!r} was collected, {new} stored"  # type: ignore[union-attr]


@pytest.mark.parametrize("position", POSITIONS, ids=lambda p: p.name)
def test_a_message_in_the_middle_of_a_dialog_changes_only_the_asked_field(
    corpus_db: Database, position: Position
) -> None:
    @PROPERTY
    @given(text=MESSAGES)
    def run(text: str) -> None:
        with rolled_back(corpus_db.engine) as sessions:
            check(sessions, position, text)

    run()
