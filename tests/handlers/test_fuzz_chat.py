"""Hypothesis drives every chat command of every role with hostile arguments through the dispatcher.

Whatever a user types — numbers that overflow a database INTEGER, percentages over 100, NUL and control
characters, full-width digits, emoji, very long text — the bot answers in Chinese (never the apology a handler
error gets, never an exception), and the ledger stays consistent afterwards.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from core.statuses import IssueStatus
from handlers.dispatch import Dispatcher
from handlers.message import IncomingMessage, Reply
from plan.schema import read_plan
from plan.sync import load_plan
from storage.db import transaction
from storage.models import Contact, DialogState, Issue, Progress, StatsReport
from tests.conftest import FIXTURES, Database, at
from tests.factories import build_ledger

pytestmark = pytest.mark.slow  # Hypothesis against the database: make test-quick leaves it out

APOLOGY = "抱歉，处理这条消息时出错了"
FUZZ = settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)
PER_COMMAND = settings(FUZZ, max_examples=12)

# Who speaks: a coordinator, a liaison of 执法监察支队 (issue #5 is theirs), and someone the bot does not know.
USERS = {"coordinator": "YuJianKui", "liaison": "MaQiang", "stranger": "Nobody"}
COMMANDS = (
    "登记",
    "问题",
    "进展",
    "我的问题",
    "周报",
    "统计",
    "报送",
    "帮助",
    "取消",
    "汇总",
    "逾期",
    "未报送",
    "批准",
    "驳回",
    "图表",
    "我的任务",
    "任务",
)

HOSTILE_TOKENS = (
    "#99999999999999999999",
    "99999999999",
    "2147483648",
    "-1",
    "-99999999999",
    "0",
    "#0",
    "#-5",
    "5",
    "#5",
    "1",
    "150%",
    "101%",
    "-20%",
    "999999999999%",
    "百分之一百零一",
    "九九九九九九九九九九九九",
    "一千亿",
    "１２",
    "＃５",
    "５０％",
    "٣",
    "①",
    "²",
    "\x00",
    "\x00\x01\x1f\x7f",
    "\u200b",
    "\u202e",
    "\ufeff",
    "😀🔥",
    "处理99999999999人",
    "处分99999999999人",
    "处理-3人",
    "处理5人 处分9人",
    "处理１００００００人",
    "已整改",
    "整改中",
    "未整改",
    "完成",
    "进展",
    "队伍建设",
    "制度建设",
    "法制科",
    "支队",
    "单位：法制科",
    "姓名：" + "张" * 300,
    "职务：" + "长" * 500,
    "电话：13909551234",
    "邮箱：" + "a" * 500 + "@x.cn",
    "单位：" + "科" * 400,
    "线索名称：" + "题" * 300,
    "完成时限：9999年99月99日",
    "完成时限：0年1月1日",
    "【单位】",
    "：：：",
    "\n\n",
    "\r\n",
    "    ",
    "%",
    "#",
    "第",
    "号",
    "x" * 5000,
)


def fragments() -> st.SearchStrategy[str]:
    return st.one_of(
        st.sampled_from(HOSTILE_TOKENS),
        st.integers(min_value=-(10**25), max_value=10**25).map(str),
        st.integers(min_value=-(10**25), max_value=10**25).map(lambda n: f"#{n}"),
        st.integers(min_value=-500, max_value=10**15).map(lambda n: f"{n}%"),
        st.text(max_size=40),
        st.text(alphabet=st.characters(codec="utf-8"), min_size=1, max_size=300),
    )


def numbers() -> st.SearchStrategy[str]:
    """What a command's first argument usually is: a number, often one no database INTEGER can hold."""
    digits = st.one_of(
        st.integers(min_value=-(10**25), max_value=10**25), st.integers(min_value=2**31 - 2, max_value=2**63 + 2)
    )
    return st.one_of(
        digits.map(str),
        digits.map(lambda n: f"#{n}"),
        digits.map(lambda n: f"第{n}号"),
        digits.map(lambda n: str(n).translate(FULL_WIDTH)),
    )


FULL_WIDTH = str.maketrans("0123456789-", "０１２３４５６７８９－")


def messages(commands: tuple[str, ...] = COMMANDS) -> st.SearchStrategy[str]:
    separator = st.sampled_from([" ", "", "\n", "：", ":", "，", "\u3000", "#"])
    lead = st.one_of(numbers(), fragments(), st.just(""))
    tail = st.lists(st.tuples(separator, fragments()), max_size=3).map(lambda parts: "".join(a + b for a, b in parts))
    return st.builds(
        lambda keyword, sep, first, rest: keyword + sep + first + rest, st.sampled_from(commands), separator, lead, tail
    )


def check_ledger(db: Database) -> None:
    """No half-written record: every issue is complete, numbered once, with a status its percent agrees with."""
    with transaction(db.sessions) as session:
        for issue in session.scalars(select(Issue)):
            assert issue.title and issue.source and issue.content and issue.measures and issue.goal and issue.owner
            assert issue.due is not None and 0 <= issue.percent <= 100
            assert (issue.status is IssueStatus.RECTIFIED) == (issue.percent == 100)
            assert "\x00" not in issue.title + issue.content
        numbers = session.execute(
            select(Issue.campaign_id, Issue.number, func.count())
            .group_by(Issue.campaign_id, Issue.number)
            .having(func.count() > 1)
        ).all()
        assert numbers == []
        for row in session.scalars(select(Progress)):
            assert 0 <= row.percent <= 100
        for stats in session.scalars(select(StatsReport)):
            assert 0 <= stats.disciplined <= stats.handled
        for contact in session.scalars(select(Contact)):
            assert contact.name and len(contact.name) <= 50 and (contact.phone is None or len(contact.phone) <= 30)
        assert session.scalar(select(func.count()).select_from(DialogState)) is not None


def speaker(db: Database) -> Callable[[str, str], Reply]:
    """Send a message as a user through the dispatcher; the reply must be a real answer."""
    dispatcher = Dispatcher(db.sessions)
    ids = itertools.count()

    def send(user: str, text: str) -> Reply:
        message = IncomingMessage("wecom", user, text, at("2020-07-15 10:00"), message_id=f"fuzz-{next(ids)}")
        reply = dispatcher.handle(message)
        assert reply.texts and all(t.strip() for t in reply.texts), f"no reply to {text!r}"
        assert not any(APOLOGY in t for t in reply.texts), f"handler error on {text!r}"
        return reply

    return send


@pytest.fixture
def say(plan_loaded: Database) -> Callable[[str, str], Reply]:
    build_ledger(plan_loaded)
    return speaker(plan_loaded)


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("role", list(USERS))
def test_every_command_with_hostile_arguments_gets_a_reply(
    say,
    plan_loaded: Database,
    role: str,  # type: ignore[no-untyped-def]
    command: str,
) -> None:
    @PER_COMMAND
    @given(text=messages((command,)))
    def run(text: str) -> None:
        say(USERS[role], text)
        say(USERS[role], "取消")  # leave any dialog the message opened, so the next one starts afresh
        check_ledger(plan_loaded)

    run()


@pytest.mark.parametrize("role", ["liaison", "stranger"])
def test_guided_dialogs_survive_hostile_answers(say, plan_loaded: Database, role: str) -> None:  # type: ignore[no-untyped-def]
    """问题 and 登记 asked one field at a time: any answers, in any number, then 取消 or completion."""

    @FUZZ
    @given(
        opening=st.sampled_from(["问题", "登记", "问题\n线索名称：执法证件", "登记\n单位：法制科"]),
        answers=st.lists(st.one_of(fragments(), messages()), min_size=1, max_size=8),
    )
    def run(opening: str, answers: list[str]) -> None:
        say(USERS[role], opening)
        for answer in answers:
            say(USERS[role], answer)
        say(USERS[role], "取消")
        check_ledger(plan_loaded)

    run()


def test_free_text_of_any_kind_gets_a_reply(say, plan_loaded: Database) -> None:  # type: ignore[no-untyped-def]
    @FUZZ
    @given(user=st.sampled_from(sorted(USERS.values())), text=st.text(max_size=200))
    def run(user: str, text: str) -> None:
        say(user, text)
        say(user, "取消")

    run()
    check_ledger(plan_loaded)


def test_task_commands_of_a_task_division_survive_hostile_arguments(db: Database) -> None:
    """任务 / 我的任务 / 汇总 on tests/fixtures/tasks.yaml, where tasks exist (the ledger's plan has none)."""
    with transaction(db.sessions) as session:
        load_plan(session, read_plan(FIXTURES / "tasks.yaml"), now=at("2020-07-15 10:00"))
    send = speaker(db)

    @FUZZ
    @given(
        user=st.sampled_from(["MaQiang", "QiShaoBo", "Nobody"]),
        text=messages(("任务", "我的任务", "汇总", "任务 8 进展", "任务 8 完成", "任务 6")),
    )
    def run(user: str, text: str) -> None:
        send(user, text)
        send(user, "取消")

    run()
