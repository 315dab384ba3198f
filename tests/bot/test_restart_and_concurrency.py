"""The guided dialog survives an app restart; concurrent writers on SQLite never see "database is locked"."""

from __future__ import annotations

import socket
import threading
import time
from collections import Counter

import httpx
import pytest
import uvicorn
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from bot.app import create_app
from core.clock import ManualClock
from storage.db import transaction
from storage.models import Issue, WeeklyReport
from tests.bot.test_sim_stories import REGISTER_LU
from tests.conftest import Database, SimChat, make_settings


def test_guided_dialog_continues_after_a_restart(plan_loaded: Database, clock: ManualClock) -> None:
    with TestClient(create_app(make_settings(plan_loaded), clock=clock)) as first:
        chat = SimChat(first)
        chat.send("LuHeJian", REGISTER_LU)
        chat.send("LuHeJian", "问题\n线索名称：执法案卷归档不及时\n线索来源：专项检查\n整治重点：履行职责")
        assert "整改措施" in chat.send("LuHeJian", "2019年案卷有12卷未归档")
    # A new process: nothing in memory survives, only the database.
    with TestClient(create_app(make_settings(plan_loaded), clock=clock)) as second:
        chat = SimChat(second)
        assert "整改目标" in chat.send("LuHeJian", "限期归档")
        assert "责任人" in chat.send("LuHeJian", "全部归档")
        assert "完成时限" in chat.send("LuHeJian", "王五")
        reply = chat.send("LuHeJian", "8月31日前")
    assert "已登记问题 #1「执法案卷归档不及时」" in reply
    with transaction(plan_loaded.sessions) as session:
        issue = session.scalars(select(Issue)).one()
        assert (issue.content, issue.measures, issue.owner) == ("2019年案卷有12卷未归档", "限期归档", "王五")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def live_server(plan_loaded: Database, clock: ManualClock):  # type: ignore[no-untyped-def]
    """The app served by uvicorn on loopback, so requests really run on concurrent threads."""
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(make_settings(plan_loaded), clock=clock), host="127.0.0.1", port=port, log_level="warning"
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("server did not start")
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


def test_twenty_concurrent_writers_never_see_database_locked(live_server: str, plan_loaded: Database) -> None:
    """20 threads post issues and weekly reports for a few seconds; every request answers 200."""
    users = [f"writer{i}" for i in range(20)]
    with httpx.Client(base_url=live_server, timeout=30) as setup:
        for user in users:  # everyone registers for 法制科 and a coordinator approves them
            setup.post(
                "/sim/api/messages",
                json={
                    "user": user,
                    "text": REGISTER_LU.replace("陆和建", f"写手{user}").replace(
                        "13909551234", f"1390955{int(user[6:]):04d}"
                    ),
                },
            )
        with transaction(plan_loaded.sessions) as session:
            from core.statuses import ContactStatus
            from storage.models import Contact

            pending = session.scalars(select(Contact.id).where(Contact.status == ContactStatus.PENDING)).all()
        for number in pending:
            setup.post("/sim/api/messages", json={"user": "YuJianKui", "text": f"批准 {number}"})

    statuses: Counter[int] = Counter()
    failures: list[str] = []
    stop_at = time.monotonic() + 3.0

    def writer(user: str) -> None:
        with httpx.Client(base_url=live_server, timeout=30) as client:
            n = 0
            while n < 4 or (time.monotonic() < stop_at and n < 200):  # at least 4 each, then for ~3 s
                n += 1
                issue = (
                    f"问题\n线索名称：{user}-{n}\n线索来源：专项检查\n整治重点：队伍建设\n线索内容：并发\n"
                    "整改措施：改\n整改目标：好\n责任人：某\n完成时限：9月10日"
                )
                text = issue if n % 2 else f"周报 {user} 第{n}次"
                response = client.post("/sim/api/messages", json={"user": user, "text": text})
                statuses[response.status_code] += 1
                if response.status_code != 200 or "出错" in response.text:
                    failures.append(response.text)

    threads = [threading.Thread(target=writer, args=(user,)) for user in users]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert not failures, failures[:3]
    assert set(statuses) == {200} and sum(statuses.values()) >= 80
    with transaction(plan_loaded.sessions) as session:
        issues = session.scalar(select(func.count()).select_from(Issue))
        numbers = session.scalars(select(Issue.number).order_by(Issue.number)).all()
        reports = session.scalar(select(func.count()).select_from(WeeklyReport))
    assert issues == len(numbers) and numbers == list(range(1, issues + 1))  # no gaps, no duplicates
    assert reports == 1  # all 20 liaisons are 法制科's: one report per unit per week, replaced each time
