"""What an operator sees: /metrics moving with callbacks, deliveries and the outbox; /readyz saying why it is not
ready; JSON logs that carry the request id and never a message body or a secret."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import structlog
from alembic.script import ScriptDirectory
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import create_engine, text, update

from bot.app import create_app
from bot.logs import QUIET_LOGGERS, configure_logging
from core.clock import ManualClock
from core.statuses import OutboxStatus
from handlers.dispatch import Dispatcher
from scheduler.delivery import DeliveryWorker
from storage.db import MIGRATIONS, make_session_factory, transaction
from storage.models import OutboxMessage
from storage.repos import Campaigns, Outbox
from tests.bot.dingtalk.conftest import MA_STAFF, DingTalkChat, dingtalk_settings
from tests.bot.dingtalk.fake_dingtalk import FakeDingTalk
from tests.bot.dingtalk.test_stream import feed, frame, stream_services
from tests.bot.wecom.conftest import AES_KEY, AGENT_ID, TOKEN, wecom_settings
from tests.bot.wecom.fake_qyapi import CORP_ID, GETTOKEN, MESSAGE_SEND, SECRET, FakeQyapi, LoopbackServer
from tests.bot.wecom.platform import WeComChat, WeComSide
from tests.conftest import Database, make_settings
from tests.fakes.platform import serve_fake_platform
from tests.fakes.senders import FakeWecomAppSender

UNREACHABLE_DATABASE = "postgresql+psycopg://duban@127.0.0.1:1/duban?connect_timeout=2"
BODY_MARKER = "正文标记-BODYMARKER-5e1c"


@pytest.fixture(scope="module")
def qyapi() -> Iterator[FakeQyapi]:
    fake = FakeQyapi()
    with LoopbackServer(fake.app) as server:
        fake.url = server.url
        yield fake


def metric(client: TestClient | httpx.Client, name: str, **labels: str) -> float:
    """One sample from /metrics (0 when the series does not exist yet: counters start when first moved)."""
    response = client.get("/metrics")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return float(sample.value)
    return 0.0


def callbacks(client: TestClient | httpx.Client, platform: str) -> dict[str, float]:
    outcomes = (
        "ok",
        "duplicate",
        "bad_signature",
        "stale",
        "malformed",
        "too_large",
        "unavailable",
        "deferred",
        "error",
    )
    return {o: metric(client, "duban_callbacks_total", platform=platform, outcome=o) for o in outcomes}


def moved(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    return {key: after[key] - before[key] for key in after if after[key] != before[key]}


# --- callbacks ------------------------------------------------------------------------------------------


def test_wecom_callbacks_are_counted_by_outcome(
    plan_loaded: Database, qyapi: FakeQyapi, clock: ManualClock, tmp_path: Path
) -> None:
    side = WeComSide(corp_id=CORP_ID, token=TOKEN, aes_key=AES_KEY, agent_id=AGENT_ID, clock=clock)
    with TestClient(create_app(wecom_settings(plan_loaded, qyapi), clock=clock)) as client:
        wecom = WeComChat(client, side)
        handled = metric(client, "duban_handler_duration_seconds_count", platform="wecom")
        start = callbacks(client, "wecom")

        wecom.send("MaQiang", "帮助", msg_id="7100000000000000001")
        wecom.send("MaQiang", "帮助", msg_id="7100000000000000001")  # WeCom's retry of the same message
        forged = side.callback(side.text_xml("MaQiang", "帮助", side.next_msg_id()))
        forged.params["msg_signature"] = "0" * 40
        assert client.post("/wecom/callback", params=forged.params, content=forged.body).status_code == 403
        an_hour_ago = str(int((clock.now() - timedelta(hours=1)).timestamp()))
        assert (
            wecom.post(side.text_xml("MaQiang", "帮助", side.next_msg_id()), timestamp=an_hour_ago).status_code == 403
        )
        valid = side.callback(side.text_xml("MaQiang", "帮助", side.next_msg_id()))
        assert client.post("/wecom/callback", params=valid.params, content=b"<xml>not WeCom</xml>").status_code == 400
        assert client.post("/wecom/callback", params=valid.params, content=b"x" * 2_000_000).status_code == 413

        services = client.app.state.services  # type: ignore[attr-defined]
        working = services.dispatcher
        (tmp_path / "not-a-directory").write_text("")
        services.dispatcher = Dispatcher(make_session_factory(create_engine(f"sqlite:///{tmp_path}/not-a-directory/x")))
        assert wecom.post(side.text_xml("MaQiang", "帮助", side.next_msg_id())).status_code == 503
        services.dispatcher = working

        assert moved(start, callbacks(client, "wecom")) == {
            "ok": 1,
            "duplicate": 1,
            "bad_signature": 1,
            "stale": 1,
            "malformed": 1,
            "too_large": 1,
            "unavailable": 1,
        }
        # Three messages reached the Dispatcher: the first, its retry (answered from the record), the outage.
        assert metric(client, "duban_handler_duration_seconds_count", platform="wecom") == handled + 3


def test_dingtalk_callbacks_are_counted_by_outcome(plan_loaded: Database, clock: ManualClock) -> None:
    fake = FakeDingTalk()
    with LoopbackServer(fake.app) as server:
        fake.base_url = server.url
        with TestClient(create_app(dingtalk_settings(plan_loaded, fake), clock=clock)) as client:
            ding = DingTalkChat(client, clock)
            start = callbacks(client, "dingtalk")
            handled = metric(client, "duban_handler_duration_seconds_count", platform="dingtalk")
            message = ding.message(MA_STAFF, "帮助", msg_id="msgObservability1")
            assert ding.post(message).status_code == 200
            assert ding.post(message).status_code == 200  # DingTalk's redelivery
            assert ding.post(message, secret="not-the-app-secret").status_code == 403
            two_hours_ago = int((clock.now() - timedelta(hours=2)).timestamp() * 1000)
            assert ding.post(ding.message(MA_STAFF, "帮助"), timestamp=two_hours_ago).status_code == 403
            assert ding.post(b"{not json").status_code == 400
            assert moved(start, callbacks(client, "dingtalk")) == {
                "ok": 1,
                "duplicate": 1,
                "bad_signature": 1,
                "stale": 1,
                "malformed": 1,
            }
            assert metric(client, "duban_handler_duration_seconds_count", platform="dingtalk") == handled + 2


def test_dingtalk_stream_frames_are_counted_without_an_http_response(
    client: TestClient, plan_loaded: Database, clock: ManualClock
) -> None:
    fake = FakeDingTalk()
    with LoopbackServer(fake.app) as server:
        fake.base_url = server.url
        start = callbacks(client, "dingtalk")
        acks = feed(stream_services(plan_loaded, clock, fake), frame(), frame(), frame(msgId=None))
    assert [ack.code for ack in acks] == [200, 200, 400]
    assert moved(start, callbacks(client, "dingtalk")) == {"ok": 1, "duplicate": 1, "malformed": 1}


def test_simulator_messages_are_counted_and_timed(client: TestClient) -> None:
    start = callbacks(client, "sim")
    handled = metric(client, "duban_handler_duration_seconds_count", platform="sim")
    assert client.post("/sim/api/messages", json={"user": "MaQiang", "text": "帮助"}).status_code == 200
    assert client.post("/sim/api/messages", json={"user": "", "text": "帮助"}).status_code == 422
    assert moved(start, callbacks(client, "sim")) == {"ok": 1, "malformed": 1}
    assert metric(client, "duban_handler_duration_seconds_count", platform="sim") == handled + 1
    # The histogram has buckets around WeCom's 5 s budget.
    assert metric(client, "duban_handler_duration_seconds_bucket", platform="sim", le="3.5") >= 1
    assert metric(client, "duban_handler_duration_seconds_bucket", platform="sim", le="5.0") >= 1


# --- outbox, deliveries, scheduler ----------------------------------------------------------------------


def _queue(db: Database, now: datetime, *, target: str, due: datetime, channel: str = "sim") -> None:
    with transaction(db.sessions) as session:
        Outbox(session).enqueue(
            campaign=Campaigns(session).current(None),
            channel=channel,
            target=target,
            text="提醒",
            now=now,
            not_before=due,
        )


def test_outbox_depth_and_age_are_read_at_scrape_time_and_readyz_fails_when_stuck(
    client: TestClient, plan_loaded: Database, clock: ManualClock
) -> None:
    assert metric(client, "duban_outbox_pending_messages") == 0
    assert metric(client, "duban_outbox_oldest_due_age_seconds") == 0
    assert metric(client, "duban_database_up") == 1
    now = clock.now()
    _queue(plan_loaded, now, target="a", due=now - timedelta(minutes=10))
    _queue(plan_loaded, now, target="b", due=now + timedelta(hours=1))  # a back-off: not late
    _queue(plan_loaded, now, target="c", due=now - timedelta(hours=5))
    with transaction(plan_loaded.sessions) as session:  # an old row that went out does not count
        session.execute(update(OutboxMessage).where(OutboxMessage.target == "c").values(status=OutboxStatus.SENT))

    assert metric(client, "duban_outbox_pending_messages") == 2
    assert metric(client, "duban_outbox_oldest_due_age_seconds") == 600
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["status"] == "ok"

    clock.advance(timedelta(minutes=6))  # 16 minutes late: over the 15-minute default
    assert metric(client, "duban_outbox_oldest_due_age_seconds") == 960
    stuck = client.get("/readyz")
    assert stuck.status_code == 503
    assert stuck.json()["failed"] == "outbox" and "960 秒" in stuck.json()["detail"]


def test_deliveries_are_counted_by_channel_and_outcome(
    client: TestClient, plan_loaded: Database, clock: ManualClock
) -> None:
    now = clock.now()
    for target in ("WangFang", "MaQiang", "LuHeJian"):
        _queue(plan_loaded, now, target=target, due=now, channel="wecom_app")
    outcomes = ("sent", "retry", "failed")
    before = {o: metric(client, "duban_deliveries_total", channel="wecom_app", outcome=o) for o in outcomes}
    with serve_fake_platform() as platform:
        platform.script(500, {"errcode": 81013, "errmsg": "user not found"})  # then every answer is ok
        sender = FakeWecomAppSender(platform.url)

        async def deliver() -> int:
            try:
                return await DeliveryWorker(plan_loaded.sessions, {"wecom_app": sender}, clock=clock).drain()
            finally:
                await sender.close()

        assert asyncio.run(deliver()) == 3
    after = {o: metric(client, "duban_deliveries_total", channel="wecom_app", outcome=o) for o in outcomes}
    assert moved(before, after) == {"sent": 1, "retry": 1, "failed": 1}


def test_the_scheduler_leader_shows_its_flag_and_last_tick(plan_loaded: Database, clock: ManualClock) -> None:
    leading = make_settings(plan_loaded).model_copy(update={"scheduler": "on"})
    with TestClient(create_app(leading, clock=clock)) as client:
        assert metric(client, "duban_scheduler_leader") == 1
        assert metric(client, "duban_scheduler_last_tick_timestamp_seconds") == clock.now().timestamp()
    with TestClient(create_app(make_settings(plan_loaded), clock=clock)) as client:
        assert metric(client, "duban_scheduler_leader") == 0  # the leader above stepped down when it stopped


# --- readiness and liveness -----------------------------------------------------------------------------


def test_readyz_is_ready_on_a_current_database(client: TestClient) -> None:
    response = client.get("/readyz")
    assert response.status_code == 200
    assert {name: check["ok"] for name, check in response.json()["checks"].items()} == {
        "database": True,
        "migrations": True,
        "outbox": True,
    }


def test_readyz_fails_while_the_database_is_at_an_older_migration(client: TestClient, plan_loaded: Database) -> None:
    scripts = ScriptDirectory(str(MIGRATIONS))
    head = scripts.get_current_head()
    assert head is not None
    previous = scripts.get_revision(head).down_revision
    assert isinstance(previous, str)
    with plan_loaded.engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = :v"), {"v": previous})
    try:
        response = client.get("/readyz")
        assert response.status_code == 503
        body = response.json()
        assert body["failed"] == "migrations" and previous in body["detail"] and "duban db upgrade" in body["detail"]
        assert client.get("/healthz").status_code == 200  # alive all the same: restarting would not help
    finally:
        with plan_loaded.engine.begin() as connection:
            connection.execute(text("UPDATE alembic_version SET version_num = :v"), {"v": head})
    assert client.get("/readyz").status_code == 200


def test_readyz_fails_and_healthz_stays_up_without_a_database(db: Database) -> None:
    settings = make_settings(db).model_copy(update={"database_url": UNREACHABLE_DATABASE})
    client = TestClient(create_app(settings))  # no lifespan, so no schema upgrade at start
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["failed"] == "database" and "数据库无法连接" in response.json()["detail"]
    assert client.get("/healthz").json() == {"status": "ok"}
    assert metric(client, "duban_database_up") == 0


# --- logs -----------------------------------------------------------------------------------------------


@pytest.fixture
def restored_logging() -> Iterator[None]:
    """configure_logging changes process-wide state: put the test runner's logging back afterwards."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    quiet = {name: logging.getLogger(name).level for name in QUIET_LOGGERS}
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    for name, old in quiet.items():
        logging.getLogger(name).setLevel(old)
    structlog.reset_defaults()


def test_log_lines_are_json_with_extras_and_secrets_masked(restored_logging: None) -> None:
    stream = io.StringIO()
    configure_logging("INFO", "json", stream=stream)
    logging.getLogger("duban.test").info(
        "posting to https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=ROBOTKEY1",
        extra={
            "access_token": "TOKENVALUE1",
            "token_name": "wecom:corp:1000002",
            "outbox_id": 7,
            "webhook": "https://oapi.dingtalk.com/robot/send?access_token=DINGTOKEN1&timestamp=1&sign=SIGN1",
        },
    )
    structlog.get_logger("duban.test").info("structlog too", app_secret="APPSECRET1", channel="wecom_app")
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [line["event"].split(" ")[0] for line in lines] == ["posting", "structlog"]
    first, second = lines
    assert {"timestamp", "level", "logger", "event"} <= first.keys() and first["level"] == "info"
    assert first["logger"] == "duban.test" and first["outbox_id"] == 7 and first["token_name"] == "wecom:corp:1000002"
    assert second["channel"] == "wecom_app" and second["logger"] == "duban.test"
    for secret in ("ROBOTKEY1", "TOKENVALUE1", "DINGTOKEN1", "SIGN1", "APPSECRET1"):
        assert secret not in stream.getvalue()


def test_scheduler_job_runs_do_not_fill_the_log(restored_logging: None) -> None:
    stream = io.StringIO()
    configure_logging("INFO", "json", stream=stream)
    logging.getLogger("apscheduler.executors.default").info('Job "delivery_job" executed successfully')
    logging.getLogger("apscheduler.executors.default").warning("Run time of job was missed by 0:01:00")
    assert [json.loads(line)["level"] for line in stream.getvalue().splitlines()] == ["warning"]


def test_readiness_probes_do_not_fill_the_log_with_alembic_lines(restored_logging: None) -> None:
    stream = io.StringIO()
    configure_logging("INFO", "json", stream=stream)
    migration = logging.getLogger("alembic.runtime.migration")
    migration.info("Context impl %s.", "SQLiteImpl")
    migration.info("Will assume %s DDL.", "non-transactional")
    migration.info("Running upgrade %s -> %s, %s", "0004_scheduler", "0005_issue_overdue_indexes", "indexes")
    assert [json.loads(line)["event"] for line in stream.getvalue().splitlines()] == [
        "Running upgrade 0004_scheduler -> 0005_issue_overdue_indexes, indexes"
    ]


def test_console_format_is_for_people(restored_logging: None) -> None:
    stream = io.StringIO()
    configure_logging("INFO", "console", stream=stream)
    logging.getLogger("duban.test").warning("outbox stuck", extra={"age_seconds": 960})
    output = stream.getvalue()
    assert "outbox stuck" in output and "age_seconds" in output and not output.startswith("{")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def served(plan_loaded: Database, qyapi: FakeQyapi, tmp_path: Path) -> Iterator[tuple[httpx.Client, Path]]:
    """`duban serve` in its own process (JSON logs to a file), WeCom configured with a reply budget so short
    that every reply goes out later as an app message: the app then fetches a token with the app secret."""
    qyapi.reset()
    port = _free_port()
    env = {
        **os.environ,
        "DUBAN_DATABASE_URL": plan_loaded.url,
        "DUBAN_SCHEDULER": "off",
        "DUBAN_PORT": str(port),
        "DUBAN_LOG_FORMAT": "json",
        "DUBAN_LOG_LEVEL": "INFO",
        "DUBAN_WECOM_CORP_ID": CORP_ID,
        "DUBAN_WECOM_AGENT_ID": str(AGENT_ID),
        "DUBAN_WECOM_SECRET": SECRET,
        "DUBAN_WECOM_TOKEN": TOKEN,
        "DUBAN_WECOM_AES_KEY": AES_KEY,
        "DUBAN_WECOM_API_BASE": qyapi.url,
        "DUBAN_WECOM_REPLY_BUDGET": "0.000001",
    }
    log_path = tmp_path / "serve.log"
    with open(log_path, "wb") as log_file:
        process = subprocess.Popen(
            [str(Path(sys.executable).with_name("duban")), "serve"],
            cwd=tmp_path,
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as http:
            deadline = time.monotonic() + 30
            while True:
                try:
                    if http.get("/healthz").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert process.poll() is None, log_path.read_text()
                assert time.monotonic() < deadline, "duban serve did not start"
                time.sleep(0.05)
            yield http, log_path
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)


def test_serve_logs_json_lines_with_the_request_id_and_no_body_or_secret(
    served: tuple[httpx.Client, Path], qyapi: FakeQyapi
) -> None:
    http, log_path = served
    side = WeComSide(
        corp_id=CORP_ID, token=TOKEN, aes_key=AES_KEY, agent_id=AGENT_ID, clock=ManualClock(datetime.now(UTC))
    )
    request_id = uuid.uuid4().hex
    callback = side.callback(side.text_xml("MaQiang", f"进展 #1 {BODY_MARKER}", side.next_msg_id()))
    response = http.post(
        "/wecom/callback", params=callback.params, content=callback.body, headers={"X-Request-ID": request_id}
    )
    assert response.status_code == 200 and response.headers["X-Request-ID"] == request_id
    assert len(qyapi.wait_for(MESSAGE_SEND, 1)) == 1, "the reply went out as an app message"
    assert qyapi.calls(GETTOKEN)[0].query["corpsecret"] == SECRET  # the secret was in a request URL
    assert metric(http, "duban_callbacks_total", platform="wecom", outcome="deferred") == 1  # a fresh process
    generated = http.get("/healthz").headers["X-Request-ID"]
    assert len(generated) == 32 and generated != request_id  # generated when nginx sent none

    deadline = time.monotonic() + 10  # the access line of the last request is written after its response
    while generated not in log_path.read_text() and time.monotonic() < deadline:
        time.sleep(0.05)
    output = log_path.read_text()
    lines = [json.loads(line) for line in output.splitlines()]  # every line is one JSON object
    assert all({"timestamp", "level", "logger", "event"} <= line.keys() for line in lines)
    mine = [line for line in lines if line.get("request_id") == request_id]
    assert {line["event"] for line in mine} >= {"wecom callback", "http request"}
    access = next(line for line in mine if line["event"] == "http request")
    assert access["logger"] == "uvicorn.access" and access["status"] == 200 and access["method"] == "POST"
    for secret in (BODY_MARKER, "BODYMARKER", SECRET, TOKEN, AES_KEY, *qyapi.issued_tokens):
        assert secret not in output, secret
