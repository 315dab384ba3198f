"""Malformed and hostile callbacks on /wecom/callback, signed and encrypted exactly as WeCom does: each is refused
with a 4xx and a reason (never a 5xx), and nothing reaches the database. Hypothesis then writes the decrypted XML
itself: whatever it is, no 5xx, and a refusal writes nothing."""

from __future__ import annotations

import base64
import os
import struct
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.bot.dingtalk.conftest import table_counts, unchanged
from tests.bot.wecom.conftest import AGENT_ID
from tests.bot.wecom.platform import Callback, WeComSide
from tests.conftest import Database

FUZZ = settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
TEN_MB = 10 * 1024 * 1024
LONG_ID = "u" * 129

BILLION_LAUGHS = (
    '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    + "".join(f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10 if i > 1 else "&lol;" * 10}">' for i in range(1, 10))
    + "]><xml><Encrypt>&lol9;</Encrypt></xml>"
)


def signed(side: WeComSide, body: bytes, encrypted: str = "x") -> Callback:
    """A correctly signed query for a body whose Encrypt the signature covers (`encrypted`)."""
    timestamp = side.now()
    return Callback({"msg_signature": side.sign(timestamp, "1", encrypted), "timestamp": timestamp, "nonce": "1"}, body)


def encrypted_bytes(side: WeComSide, plaintext: bytes) -> Callback:
    """A callback whose decrypted plaintext is exactly `plaintext` (which need not be UTF-8)."""
    raw = os.urandom(16) + struct.pack(">I", len(plaintext)) + plaintext + side.corp_id.encode()
    pad = 32 - len(raw) % 32
    raw += bytes([pad]) * pad
    encryptor = Cipher(algorithms.AES(side.key), modes.CBC(side.key[:16])).encryptor()
    encrypted = base64.b64encode(encryptor.update(raw) + encryptor.finalize()).decode()
    return signed(side, side.envelope(encrypted), encrypted)


def text_xml(
    side: WeComSide, *, user: str = "MaQiang", text: str = "帮助", msg_id: str = "1", agent_id: object = AGENT_ID
) -> str:
    return side.text_xml(user, text, msg_id).replace(f"<AgentID>{AGENT_ID}</AgentID>", f"<AgentID>{agent_id}</AgentID>")


WECOM_HOSTILE: dict[str, tuple[Callable[[WeComSide], Callback], int, str]] = {
    "billion laughs": (lambda side: signed(side, BILLION_LAUGHS.encode()), 400, "DOCTYPE"),
    "external entity": (
        lambda side: signed(
            side, b'<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><xml><Encrypt>&e;</Encrypt></xml>'
        ),
        400,
        "DOCTYPE",
    ),
    "entity in UTF-16": (
        lambda side: signed(
            side,
            '<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE x '
            '[<!ENTITY e "boom">]><xml><Encrypt>&e;</Encrypt></xml>'.encode("utf-16"),
        ),
        400,
        "XML",
    ),
    "billion laughs inside the ciphertext": (lambda side: side.callback(BILLION_LAUGHS), 400, "DOCTYPE"),
    "not XML": (lambda side: signed(side, b"Encrypt=abc&ToUserName=ww"), 400, "XML"),
    "JSON body": (lambda side: signed(side, b'{"Encrypt": "x"}'), 400, "XML"),
    "empty body": (lambda side: signed(side, b""), 400, "XML"),
    "invalid UTF-8 body": (
        lambda side: signed(side, b"<xml><Encrypt>\xff\xfe\xc3\x28</Encrypt></xml>"),
        400,
        "XML 格式错误",
    ),
    "invalid UTF-8 plaintext": (
        lambda side: encrypted_bytes(side, b"<xml><FromUserName>\xff\xfe</FromUserName></xml>"),
        400,
        "无法解密",
    ),
    "plaintext not XML": (lambda side: side.callback("just some text"), 400, "消息内容格式错误"),
    "wrong corp id": (lambda side: side.callback(text_xml(side), receive_id="wwanothercorp"), 400, "receiveid"),
    "AgentID of another app": (lambda side: side.callback(text_xml(side, agent_id=1000099)), 400, "AgentID"),
    "AgentID not a number": (lambda side: side.callback(text_xml(side, agent_id="abc")), 400, "AgentID"),
    "FromUserName over 128 chars": (lambda side: side.callback(text_xml(side, user=LONG_ID)), 400, "FromUserName"),
    "MsgId over 128 chars": (lambda side: side.callback(text_xml(side, msg_id="9" * 129)), 400, "MsgId"),
    "MsgId not a number": (lambda side: side.callback(text_xml(side, msg_id="abc")), 400, "消息字段格式错误"),
}


@pytest.mark.parametrize("case", WECOM_HOSTILE, ids=list(WECOM_HOSTILE))
def test_hostile_wecom_callbacks_are_refused_and_write_nothing(
    case: str, wecom_client: TestClient, side: WeComSide, plan_loaded: Database
) -> None:
    build, status, reason = WECOM_HOSTILE[case]
    callback = build(side)
    with unchanged(plan_loaded):
        response = wecom_client.post("/wecom/callback", params=callback.params, content=callback.body)
    assert response.status_code == status, response.text
    assert reason in response.json()["detail"]
    assert "lollol" not in response.text and "root:" not in response.text  # nothing was expanded


def ten_megabytes() -> Iterator[bytes]:
    chunk = b"<xml><Encrypt>" + b"A" * (1024 * 1024)
    for _ in range(10):
        yield chunk


@pytest.mark.parametrize("path", ["/wecom/callback", "/dingtalk/callback"])
@pytest.mark.parametrize("streamed", [False, True], ids=["content-length", "chunked"])
def test_a_ten_megabyte_body_is_refused_with_413(
    path: str, streamed: bool, wecom_client: TestClient, plan_loaded: Database
) -> None:
    body: Any = ten_megabytes() if streamed else b"".join(ten_megabytes())
    with unchanged(plan_loaded):
        response = wecom_client.post(path, params={"msg_signature": "x", "timestamp": "1", "nonce": "1"}, content=body)
    assert response.status_code == 413


# --- hypothesis writes the decrypted payloads -------------------------------------------------------------

XML_VALUES = st.one_of(
    st.text(max_size=30),
    st.integers().map(str),
    st.just(""),
    st.just("x" * 200),
    st.sampled_from(
        [
            "text",
            "event",
            "image",
            "enter_agent",
            "MaQiang",
            "YuJianKui",
            "帮助",
            "进展 #99999999999 已整改",
            str(AGENT_ID),
            "]]>",
            "<a>",
            "&amp;",
        ]
    ),
)
XML_TAGS = st.sampled_from(
    [
        "ToUserName",
        "FromUserName",
        "CreateTime",
        "MsgType",
        "Content",
        "MsgId",
        "AgentID",
        "Event",
        "EventKey",
        "PicUrl",
        "MediaId",
    ]
)


def cdata(value: str) -> str:
    return "<![CDATA[" + value.replace("]]>", "]]]]><![CDATA[>") + "]]>"


@st.composite
def wecom_plaintexts(draw: st.DrawFn) -> str:
    fields = draw(st.dictionaries(XML_TAGS, XML_VALUES, max_size=9))
    body = "".join(f"<{tag}>{cdata(value) if draw(st.booleans()) else value}</{tag}>" for tag, value in fields.items())
    return f"<{draw(st.sampled_from(['xml', 'xml', 'root']))}>{body}</xml>"


def settled(client: TestClient) -> None:
    """Wait until the channel's background work (pictures being fetched, late replies) is done."""
    deadline = time.monotonic() + 10
    while client.app.state.wecom.answering.pending and time.monotonic() < deadline:  # type: ignore[attr-defined]
        time.sleep(0.01)


def test_generated_wecom_plaintexts_never_get_a_5xx(
    wecom_client: TestClient, side: WeComSide, plan_loaded: Database
) -> None:
    @FUZZ
    @given(plaintext=wecom_plaintexts())
    def run(plaintext: str) -> None:
        settled(wecom_client)  # a picture from an earlier example is handled after its callback was answered
        before = table_counts(plan_loaded)
        callback = side.callback(plaintext)
        response = wecom_client.post("/wecom/callback", params=callback.params, content=callback.body)
        assert response.status_code < 500, (plaintext, response.text)
        if response.status_code >= 400:
            assert table_counts(plan_loaded) == before, plaintext

    run()
