"""The WeCom side of a callback, written from WeCom's published algorithm (WXBizMsgCrypt), not with wechatpy:
tests build callbacks the way WeCom builds them and read replies the way WeCom reads them, independently of
the library the bot uses."""

from __future__ import annotations

import base64
import hashlib
import itertools
import os
import struct
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from fastapi.testclient import TestClient
from httpx import Response

from core.clock import ManualClock
from tests.bot.wecom.fake_qyapi import MESSAGE_SEND, FakeQyapi

BLOCK = 32  # WeCom pads to 32 bytes (PKCS#7 with k = 32), not to the AES block size


@dataclass(frozen=True)
class Callback:
    params: dict[str, str]
    body: bytes


class WeComSide:
    """Encrypts and signs callbacks for one app, and decrypts and checks the bot's passive replies."""

    def __init__(self, *, corp_id: str, token: str, aes_key: str, agent_id: int, clock: ManualClock) -> None:
        self.corp_id = corp_id
        self.token = token
        self.key = base64.b64decode(aes_key + "=")
        self.agent_id = agent_id
        self.clock = clock
        self._ids = itertools.count(7_000_000_000_000_000_001)

    def sign(self, timestamp: str, nonce: str, encrypted: str) -> str:
        return hashlib.sha1("".join(sorted((self.token, timestamp, nonce, encrypted))).encode()).hexdigest()

    def encrypt(self, plaintext: str, receive_id: str | None = None) -> str:
        content = plaintext.encode()
        raw = os.urandom(16) + struct.pack(">I", len(content)) + content + (receive_id or self.corp_id).encode()
        pad = BLOCK - len(raw) % BLOCK
        raw += bytes([pad]) * pad
        encryptor = Cipher(algorithms.AES(self.key), modes.CBC(self.key[:16])).encryptor()
        return base64.b64encode(encryptor.update(raw) + encryptor.finalize()).decode()

    def decrypt(self, encrypted: str) -> str:
        decryptor = Cipher(algorithms.AES(self.key), modes.CBC(self.key[:16])).decryptor()
        raw = decryptor.update(base64.b64decode(encrypted)) + decryptor.finalize()
        raw = raw[: -raw[-1]]
        (length,) = struct.unpack(">I", raw[16:20])
        assert raw[20 + length :].decode() == self.corp_id, "the reply must carry our corp id as receiveid"
        return raw[20 : 20 + length].decode()

    def next_msg_id(self) -> str:
        return str(next(self._ids))

    def now(self) -> str:
        return str(int(self.clock.now().timestamp()))

    def text_xml(self, user: str, text: str, msg_id: str) -> str:
        return (
            f"<xml><ToUserName><![CDATA[{self.corp_id}]]></ToUserName>"
            f"<FromUserName><![CDATA[{user}]]></FromUserName><CreateTime>{self.now()}</CreateTime>"
            f"<MsgType><![CDATA[text]]></MsgType><Content><![CDATA[{text}]]></Content>"
            f"<MsgId>{msg_id}</MsgId><AgentID>{self.agent_id}</AgentID></xml>"
        )

    def event_xml(self, user: str, event: str) -> str:
        return (
            f"<xml><ToUserName><![CDATA[{self.corp_id}]]></ToUserName>"
            f"<FromUserName><![CDATA[{user}]]></FromUserName><CreateTime>{self.now()}</CreateTime>"
            f"<MsgType><![CDATA[event]]></MsgType><Event><![CDATA[{event}]]></Event>"
            f"<EventKey><![CDATA[]]></EventKey><AgentID>{self.agent_id}</AgentID></xml>"
        )

    def media_xml(self, user: str, msg_type: str) -> str:
        return (
            f"<xml><ToUserName><![CDATA[{self.corp_id}]]></ToUserName>"
            f"<FromUserName><![CDATA[{user}]]></FromUserName><CreateTime>{self.now()}</CreateTime>"
            f"<MsgType><![CDATA[{msg_type}]]></MsgType><MediaId><![CDATA[media-1]]></MediaId>"
            f"<MsgId>{self.next_msg_id()}</MsgId><AgentID>{self.agent_id}</AgentID></xml>"
        )

    def envelope(self, encrypted: str) -> bytes:
        return (
            f"<xml><ToUserName><![CDATA[{self.corp_id}]]></ToUserName>"
            f"<Encrypt><![CDATA[{encrypted}]]></Encrypt><AgentID><![CDATA[{self.agent_id}]]></AgentID></xml>"
        ).encode()

    def callback(self, plaintext: str, *, receive_id: str | None = None, timestamp: str | None = None) -> Callback:
        """A POST exactly as WeCom sends it: encrypted envelope, msg_signature/timestamp/nonce in the query."""
        encrypted = self.encrypt(plaintext, receive_id)
        timestamp = timestamp or self.now()
        nonce = "1372623149"
        params = {"msg_signature": self.sign(timestamp, nonce, encrypted), "timestamp": timestamp, "nonce": nonce}
        return Callback(params, self.envelope(encrypted))

    def read_reply(self, response: Response) -> dict[str, str]:
        """Check a passive reply's signature and decrypt it into its fields (ToUserName, Content …)."""
        outer = ET.fromstring(response.content)
        encrypted, signature = outer.findtext("Encrypt") or "", outer.findtext("MsgSignature")
        assert signature == self.sign(outer.findtext("TimeStamp") or "", outer.findtext("Nonce") or "", encrypted)
        inner = ET.fromstring(self.decrypt(encrypted))
        return {child.tag: child.text or "" for child in inner}


def rendered(markdown: str) -> str:
    """Roughly what a person reads of a WeCom markdown message: no emphasis marks, headings or hard breaks."""
    lines = (line.removeprefix("### ").removeprefix("## ").rstrip() for line in markdown.splitlines())
    return "\n".join(lines).replace("**", "")


class WeComChat:
    """Talks to the app through /wecom/callback as WeCom would relay a user's messages."""

    def __init__(self, client: TestClient, side: WeComSide, qyapi: FakeQyapi | None = None) -> None:
        self.client = client
        self.side = side
        self.qyapi = qyapi

    def post(self, plaintext: str, **kwargs: str) -> Response:
        callback = self.side.callback(plaintext, **kwargs)
        return self.client.post("/wecom/callback", params=callback.params, content=callback.body)

    def send(self, user: str, text: str, msg_id: str | None = None) -> str:
        sent_before = len(self.app_messages(user))
        response = self.post(self.side.text_xml(user, text, msg_id or self.side.next_msg_id()))
        assert response.status_code == 200, response.text
        if not response.content:  # a markdown reply (coordinators' summaries) comes as an app message
            assert self.qyapi is not None, "an empty answer means the reply went through the app-message API"
            deadline = time.monotonic() + 10
            while len(self.app_messages(user)) <= sent_before and time.monotonic() < deadline:
                self.qyapi.wait_for(MESSAGE_SEND, len(self.qyapi.calls(MESSAGE_SEND)) + 1, timeout=0.5)
            message = self.app_messages(user)[sent_before]
            return rendered(str((message.get("markdown") or message.get("text") or {}).get("content", "")))
        reply = self.side.read_reply(response)
        assert reply["ToUserName"] == user and reply["FromUserName"] == self.side.corp_id
        assert reply["MsgType"] == "text" and reply["Content"], "every message gets a reply"
        return reply["Content"]

    def app_messages(self, user: str) -> list[dict[str, Any]]:
        """Text and markdown app messages that reached `user` (pictures are in qyapi.calls)."""
        if self.qyapi is None:
            return []
        return [
            r.json
            for r in self.qyapi.calls(MESSAGE_SEND)
            if r.json and r.json.get("touser") == user and r.json.get("msgtype") in ("text", "markdown")
        ]
