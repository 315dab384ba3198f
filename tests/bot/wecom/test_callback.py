"""/wecom/callback as WeCom drives it: verification, bad input, events, retries, the reply budget, outages."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from bot.app import create_app
from core.clock import ManualClock
from handlers.dispatch import Dispatcher
from handlers.message import IncomingMessage, Reply
from storage.db import make_engine, make_session_factory, transaction
from storage.models import Base, Issue, ProcessedMessage
from tests.bot.test_sim_stories import FULL_ISSUE
from tests.bot.wecom.conftest import AES_KEY, wecom_settings
from tests.bot.wecom.fake_qyapi import GETTOKEN, MESSAGE_SEND, FakeQyapi
from tests.bot.wecom.platform import Callback, WeComChat, WeComSide
from tests.conftest import Database, make_settings

UNREACHABLE_DATABASE = "postgresql+psycopg://duban@127.0.0.1:1/duban?connect_timeout=2"


def row_counts(db: Database) -> dict[str, int]:
    with transaction(db.sessions) as session:
        return {
            t.name: int(session.scalar(select(func.count()).select_from(t)) or 0) for t in Base.metadata.sorted_tables
        }


def count(db: Database, model: type) -> int:
    with transaction(db.sessions) as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


# --- URL verification ---------------------------------------------------------------------------------


def test_url_verification_echoes_the_plaintext(wecom_client: TestClient, side: WeComSide) -> None:
    echostr = side.encrypt("5927803861218513469")
    params = {
        "msg_signature": side.sign("1594778400", "42", echostr),
        "timestamp": "1594778400",
        "nonce": "42",
        "echostr": echostr,
    }
    response = wecom_client.get("/wecom/callback", params=params)
    assert (response.status_code, response.text) == (200, "5927803861218513469")


def test_url_verification_is_not_subject_to_the_skew_check(
    wecom_client: TestClient, side: WeComSide, clock: ManualClock
) -> None:
    clock.advance(timedelta(days=30))  # the timestamp below is now a month old
    echostr = side.encrypt("1616140317555161061")
    params = {
        "msg_signature": side.sign("1594778400", "7", echostr),
        "timestamp": "1594778400",
        "nonce": "7",
        "echostr": echostr,
    }
    assert wecom_client.get("/wecom/callback", params=params).text == "1616140317555161061"


def test_url_verification_survives_an_unencoded_plus(wecom_client: TestClient, side: WeComSide) -> None:
    echostr = next(e for e in (side.encrypt(f"echo{i}") for i in range(100)) if "+" in e)
    signature = side.sign("1594778400", "9", echostr)
    response = wecom_client.get(
        f"/wecom/callback?msg_signature={signature}&timestamp=1594778400&nonce=9&echostr={echostr.replace('=', '%3D')}"
    )  # '+' left raw, as some proxies do
    assert response.status_code == 200 and response.text.startswith("echo")


def test_url_verification_with_a_wrong_signature_is_forbidden(wecom_client: TestClient, side: WeComSide) -> None:
    echostr = side.encrypt("123")
    params = {"msg_signature": "0" * 40, "timestamp": "1594778400", "nonce": "1", "echostr": echostr}
    response = wecom_client.get("/wecom/callback", params=params)
    assert response.status_code == 403 and "签名校验失败" in response.json()["detail"]


def test_without_wecom_settings_the_callback_says_what_is_missing(plan_loaded: Database) -> None:
    with TestClient(create_app(make_settings(plan_loaded, wecom_corp_id="ww1"))) as client:
        for response in (client.get("/wecom/callback"), client.post("/wecom/callback", content=b"<xml/>")):
            assert response.status_code == 404
            detail = response.json()["detail"]
            assert "DUBAN_WECOM_TOKEN" in detail and "DUBAN_WECOM_AES_KEY" in detail
            assert "DUBAN_WECOM_CORP_ID" not in detail


# --- bad input: refused, and nothing written ---------------------------------------------------------

BILLION_LAUGHS = (
    '<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY a "aaaaaaaaaa">'
    + "".join(f'<!ENTITY {chr(98 + i)} "{("&" + chr(97 + i) + ";") * 10}">' for i in range(8))
    + "]><xml><Encrypt>&i;</Encrypt></xml>"
)


def signed(side: WeComSide, body: bytes, encrypted: str = "abc") -> Callback:
    timestamp = side.now()
    return Callback({"msg_signature": side.sign(timestamp, "1", encrypted), "timestamp": timestamp, "nonce": "1"}, body)


def wrong_signature(side: WeComSide) -> Callback:
    good = side.callback(side.text_xml("MaQiang", FULL_ISSUE, "1001"))
    return Callback(good.params | {"msg_signature": "f" * 40}, good.body)


def signature_for_another_token(side: WeComSide) -> Callback:
    impostor = WeComSide(corp_id=side.corp_id, token="not-our-token", aes_key=AES_KEY, agent_id=1, clock=side.clock)
    return impostor.callback(side.text_xml("MaQiang", FULL_ISSUE, "1002"))


def external_entity(side: WeComSide) -> Callback:
    body = (
        b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><xml><Encrypt>&e;</Encrypt></xml>'
    )
    return signed(side, body)


def dtd_inside_the_ciphertext(side: WeComSide) -> Callback:
    inner = '<!DOCTYPE xml [<!ENTITY x "boom">]>' + side.text_xml("MaQiang", "&x;", "1003")
    return side.callback(inner)


def stale_timestamp(side: WeComSide) -> Callback:
    return side.callback(side.text_xml("MaQiang", FULL_ISSUE, "1004"), timestamp=str(int(side.now()) - 301))


def future_timestamp(side: WeComSide) -> Callback:
    return side.callback(side.text_xml("MaQiang", FULL_ISSUE, "1005"), timestamp=str(int(side.now()) + 301))


def non_numeric_timestamp(side: WeComSide) -> Callback:
    return side.callback(side.text_xml("MaQiang", FULL_ISSUE, "1006"), timestamp="yesterday")


def garbage_ciphertext(side: WeComSide) -> Callback:
    encrypted = "QUJDREVGR0g="  # base64, but not a whole AES block
    return signed(side, side.envelope(encrypted), encrypted)


def text_without_msg_id(side: WeComSide) -> Callback:
    return side.callback(side.text_xml("MaQiang", FULL_ISSUE, "1007").replace("<MsgId>1007</MsgId>", ""))


BAD_INPUT: dict[str, tuple[Callable[[WeComSide], Callback], int, str]] = {
    "wrong signature": (wrong_signature, 403, "签名校验失败"),
    "signed with another Token": (signature_for_another_token, 403, "签名校验失败"),
    "malformed XML": (lambda side: signed(side, b"<xml><Encrypt>abc</Encrypt>"), 400, "XML 格式错误"),
    "not XML at all": (lambda side: signed(side, b'{"Encrypt": "abc"}'), 400, "XML 格式错误"),
    "missing Encrypt": (lambda side: signed(side, b"<xml><ToUserName>ww</ToUserName></xml>"), 400, "缺少 Encrypt"),
    "wrong receiveid": (
        lambda side: side.callback(side.text_xml("MaQiang", FULL_ISSUE, "1008"), receive_id="wwsomeoneelse"),
        400,
        "receiveid",
    ),
    "billion laughs": (lambda side: signed(side, BILLION_LAUGHS.encode()), 400, "DOCTYPE"),
    "external entity": (external_entity, 400, "DOCTYPE"),
    "DTD inside the ciphertext": (dtd_inside_the_ciphertext, 400, "DOCTYPE"),
    "timestamp too old": (stale_timestamp, 403, "超过 300 秒"),
    "timestamp in the future": (future_timestamp, 403, "超过 300 秒"),
    "timestamp not a number": (non_numeric_timestamp, 400, "timestamp"),
    "ciphertext that does not decrypt": (garbage_ciphertext, 400, "无法解密"),
    "text without MsgId": (text_without_msg_id, 400, "MsgId"),
    "event without CreateTime": (
        lambda side: side.callback(
            side.event_xml("MaQiang", "enter_agent").replace(f"<CreateTime>{side.now()}</CreateTime>", "")
        ),
        400,
        "CreateTime",
    ),
    "no query parameters": (lambda side: Callback({}, side.callback("<xml/>").body), 400, "缺少参数"),
}


@pytest.mark.parametrize("case", BAD_INPUT, ids=list(BAD_INPUT))
def test_bad_input_is_refused_with_a_reason_and_nothing_is_written(
    case: str, wecom_client: TestClient, side: WeComSide, plan_loaded: Database, qyapi: FakeQyapi
) -> None:
    build, status, reason = BAD_INPUT[case]
    before = row_counts(plan_loaded)
    callback = build(side)
    response = wecom_client.post("/wecom/callback", params=callback.params, content=callback.body)
    assert response.status_code == status, response.text
    assert reason in response.json()["detail"]
    assert "root:" not in response.text  # no file was read into anything
    assert row_counts(plan_loaded) == before
    assert qyapi.requests == []


def test_a_body_over_one_megabyte_is_refused_before_parsing(
    wecom_client: TestClient, side: WeComSide, plan_loaded: Database
) -> None:
    before = row_counts(plan_loaded)
    callback = side.callback(side.text_xml("MaQiang", "周报 " + "很长" * 200_000, "1009"))
    assert len(callback.body) > 1024 * 1024
    assert wecom_client.post("/wecom/callback", params=callback.params, content=callback.body).status_code == 413
    assert row_counts(plan_loaded) == before


def test_the_skew_rejection_logs_the_skew(
    wecom_client: TestClient, side: WeComSide, caplog: pytest.LogCaptureFixture
) -> None:
    callback = stale_timestamp(side)
    with caplog.at_level(logging.WARNING, logger="duban.wecom"):
        wecom_client.post("/wecom/callback", params=callback.params, content=callback.body)
    skews = [getattr(r, "skew_seconds", None) for r in caplog.records]
    assert 301 in skews


# --- events and other message types -------------------------------------------------------------------


def test_entering_the_app_greets_with_the_menu_for_the_role(
    wecom: WeComChat, side: WeComSide, plan_loaded: Database
) -> None:
    liaison = side.read_reply(wecom.post(side.event_xml("MaQiang", "enter_agent")))["Content"]
    assert liaison.startswith("您好，我是督办机器人") and "您的身份：联络员（执法监察支队）" in liaison
    assert "周报 <内容>" in liaison and "批准" not in liaison
    coordinator = side.read_reply(wecom.post(side.event_xml("YuJianKui", "subscribe")))["Content"]
    assert "您的身份：牵头部门协调人" in coordinator and "批准 <登记号>" in coordinator
    stranger = side.read_reply(wecom.post(side.event_xml("newcomer", "enter_agent")))["Content"]
    assert "请先发送「登记」" in stranger


def test_a_retried_event_is_answered_again_without_a_second_record(
    wecom: WeComChat, side: WeComSide, plan_loaded: Database
) -> None:
    event = side.event_xml("MaQiang", "enter_agent")
    first = side.read_reply(wecom.post(event))["Content"]
    again = side.read_reply(wecom.post(event))["Content"]
    assert first == again and count(plan_loaded, ProcessedMessage) == 1


@pytest.mark.parametrize("event", ["view", "unsubscribe", "change_contact"])  # change_contact: unknown to wechatpy
def test_other_events_get_an_empty_answer(event: str, wecom: WeComChat, side: WeComSide, plan_loaded: Database) -> None:
    before = row_counts(plan_loaded)
    response = wecom.post(side.event_xml("MaQiang", event))
    assert (response.status_code, response.content) == (200, b"")
    assert row_counts(plan_loaded) == before


@pytest.mark.parametrize("msg_type", ["voice", "video"])
def test_media_messages_get_a_polite_request_for_text(
    msg_type: str, wecom: WeComChat, side: WeComSide, plan_loaded: Database
) -> None:
    before = row_counts(plan_loaded)
    reply = side.read_reply(wecom.post(side.media_xml("MaQiang", msg_type)))
    assert reply["ToUserName"] == "MaQiang" and "请发送文字" in reply["Content"]
    assert row_counts(plan_loaded) == before


# --- retries ----------------------------------------------------------------------------------------------


def test_a_retried_msg_id_gets_the_same_reply_and_one_issue(wecom: WeComChat, plan_loaded: Database) -> None:
    first = wecom.send("MaQiang", FULL_ISSUE, msg_id="6100000000000000001")
    again = wecom.send("MaQiang", FULL_ISSUE, msg_id="6100000000000000001")
    assert "已登记问题 #1" in first and again == first
    assert count(plan_loaded, Issue) == 1 and count(plan_loaded, ProcessedMessage) == 1


def test_three_concurrent_deliveries_of_one_msg_id_make_one_issue(
    wecom: WeComChat, side: WeComSide, plan_loaded: Database
) -> None:
    callback = side.callback(side.text_xml("MaQiang", FULL_ISSUE, "6100000000000000002"))
    start = threading.Barrier(3)

    def deliver() -> tuple[int, str]:
        start.wait()
        response = wecom.client.post("/wecom/callback", params=callback.params, content=callback.body)
        return response.status_code, side.read_reply(response)["Content"] if response.status_code == 200 else ""

    with ThreadPoolExecutor(3) as pool:
        answers = list(pool.map(lambda _: deliver(), range(3)))
    assert [status for status, _ in answers] == [200, 200, 200]
    assert len({text for _, text in answers}) == 1 and "已登记问题 #1" in answers[0][1]
    assert count(plan_loaded, Issue) == 1 and count(plan_loaded, ProcessedMessage) == 1


# --- the reply budget, long replies and outages ---------------------------------------------------------


class GatedDispatcher:
    """The real dispatcher, held at a gate: the test decides when handling may finish."""

    def __init__(self, inner: Dispatcher, fail_with: Exception | None = None) -> None:
        self.inner = inner
        self.gate = threading.Event()
        self.fail_with = fail_with

    def handle(self, message: IncomingMessage) -> Reply:
        assert self.gate.wait(timeout=10), "the test never opened the gate"
        if self.fail_with is not None:
            raise self.fail_with
        return self.inner.handle(message)


@pytest.fixture
def slow_client(plan_loaded: Database, qyapi: FakeQyapi, clock: ManualClock) -> Iterator[TestClient]:
    with TestClient(create_app(wecom_settings(plan_loaded, qyapi, wecom_reply_budget=0.05), clock=clock)) as client:
        yield client


def test_a_reply_over_budget_is_answered_empty_then_sent_as_an_app_message(
    slow_client: TestClient, side: WeComSide, plan_loaded: Database, qyapi: FakeQyapi
) -> None:
    services = slow_client.app.state.services  # type: ignore[attr-defined]
    gated = GatedDispatcher(services.dispatcher)
    services.dispatcher = gated
    callback = side.callback(side.text_xml("MaQiang", FULL_ISSUE, "6100000000000000003"))
    response = slow_client.post("/wecom/callback", params=callback.params, content=callback.body)
    assert (response.status_code, response.content) == (200, b"")  # WeCom will not retry an answered callback
    gated.gate.set()
    sent = qyapi.wait_for(MESSAGE_SEND, 1)
    assert len(sent) == 1 and sent[0].json is not None
    assert sent[0].json["touser"] == "MaQiang" and sent[0].json["msgtype"] == "text"
    assert sent[0].json["agentid"] == 1000002 and "已登记问题 #1" in sent[0].json["text"]["content"]
    assert len(qyapi.calls(GETTOKEN)) == 1
    assert count(plan_loaded, Issue) == 1 and count(plan_loaded, ProcessedMessage) == 1


def test_a_database_failure_after_the_budget_tells_the_user_to_resend(
    slow_client: TestClient, side: WeComSide, qyapi: FakeQyapi
) -> None:
    services = slow_client.app.state.services  # type: ignore[attr-defined]
    gated = GatedDispatcher(services.dispatcher, fail_with=OperationalError("SELECT 1", {}, Exception("down")))
    services.dispatcher = gated
    callback = side.callback(side.text_xml("MaQiang", FULL_ISSUE, "6100000000000000004"))
    assert slow_client.post("/wecom/callback", params=callback.params, content=callback.body).content == b""
    gated.gate.set()
    sent = qyapi.wait_for(MESSAGE_SEND, 1)
    assert sent[0].json is not None and "请稍后重新发送" in sent[0].json["text"]["content"]


def test_a_database_outage_answers_503_so_wecom_retries(
    wecom: WeComChat, side: WeComSide, plan_loaded: Database, qyapi: FakeQyapi
) -> None:
    services = wecom.client.app.state.services  # type: ignore[attr-defined]
    working = services.dispatcher
    services.dispatcher = Dispatcher(make_session_factory(make_engine(UNREACHABLE_DATABASE)))
    callback = side.callback(side.text_xml("MaQiang", FULL_ISSUE, "6100000000000000005"))
    response = wecom.client.post("/wecom/callback", params=callback.params, content=callback.body)
    assert response.status_code == 503 and "数据库暂不可用" in response.json()["detail"]
    assert count(plan_loaded, Issue) == 0 and qyapi.requests == []

    services.dispatcher = working  # the database is back; WeCom's retry is processed normally
    retried = wecom.client.post("/wecom/callback", params=callback.params, content=callback.body)
    assert "已登记问题 #1" in side.read_reply(retried)["Content"]
    assert count(plan_loaded, Issue) == 1


class LongReplies:
    def __init__(self, text: str) -> None:
        self.text = text

    def handle(self, message: IncomingMessage) -> Reply:
        return Reply.of(self.text)


def test_a_reply_over_2048_bytes_goes_partly_passive_and_the_rest_as_app_messages(
    wecom: WeComChat, qyapi: FakeQyapi
) -> None:
    long_text = "\n".join(f"{n:03d}. 执法监察支队逾期问题：执法证件未按期年检，责任人张三" for n in range(60))
    wecom.client.app.state.services.dispatcher = LongReplies(long_text)  # type: ignore[attr-defined]
    first = wecom.send("YuJianKui", "逾期")
    assert len(first.encode()) <= 2048 and long_text.startswith(first)
    rest = "".join(call.json["text"]["content"] for call in qyapi.wait_for(MESSAGE_SEND, 2) if call.json)
    assert all(len(call.json["text"]["content"].encode()) <= 2048 for call in qyapi.calls(MESSAGE_SEND) if call.json)
    assert first + rest == long_text
