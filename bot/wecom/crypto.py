"""WeCom callback security: signature, envelope and AES (WXBizMsgCrypt), with the checks wechatpy leaves out.

wechatpy does the AES and the message parsing. It also checks signatures, but with `!=` and only after
xmltodict has parsed the request body; here the body is screened for DTDs and parsed with defusedxml,
and the signature is compared in constant time, before any of it reaches wechatpy.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import struct
from dataclasses import dataclass
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring
from wechatpy.messages import BaseMessage
from wechatpy.work import parse_message
from wechatpy.work.crypto import PrpCrypto, WeChatCrypto
from wechatpy.work.exceptions import InvalidCorpIdException
from wechatpy.work.replies import TextReply

from storage.models import ID_LENGTH

# A DTD is the only way to declare entities (billion laughs, external files). WeCom never sends one, so any
# body that declares one is refused outright, before an XML parser has seen a byte of it.
_DTD = re.compile(rb"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)


class CallbackRejected(Exception):
    """A callback that must not be processed; `status` is the HTTP answer, `reason` says why (in Chinese)."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass(frozen=True)
class Envelope:
    """The outer XML of a WeCom POST: the ciphertext and the corp it claims to be for."""

    encrypt: str
    to_user: str | None


def read_envelope(body: bytes) -> Envelope:
    """Parse the outer XML safely; 400 for anything that is not WeCom's `<xml><Encrypt>…</Encrypt></xml>`."""
    root = _parse_safely(body)
    encrypt = root.findtext("Encrypt")
    if root.tag != "xml" or not encrypt or not encrypt.strip():
        raise CallbackRejected(400, "缺少 Encrypt 字段")
    return Envelope(encrypt=encrypt.strip(), to_user=root.findtext("ToUserName"))


def _refuse_dtd(xml: bytes) -> None:
    if _DTD.search(xml):
        raise CallbackRejected(400, "XML 不允许包含 DOCTYPE 或 ENTITY 声明")


def _parse_safely(body: bytes) -> Element:
    _refuse_dtd(body)
    try:
        # defusedxml as a second line: it also catches a DTD hidden by an encoding the byte scan cannot read.
        return fromstring(body, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except (ParseError, DefusedXmlException, ValueError) as error:
        raise CallbackRejected(400, "XML 格式错误") from error


def message_type(message: BaseMessage) -> str:
    """MsgType as WeCom sent it: wechatpy calls every type and event it does not model "unknown"."""
    raw = message._data.get("MsgType")  # the parsed XML; wechatpy has no public accessor for it
    return str(raw).lower() if isinstance(raw, str) else str(message.type)


class WeComCrypto:
    """One app's callback keys: Token (signatures), EncodingAESKey (AES-256-CBC) and the corp id (receiveid)."""

    def __init__(self, *, token: str, aes_key: str, corp_id: str) -> None:
        try:
            key = base64.b64decode(aes_key + "=", validate=True)
        except binascii.Error:
            key = b""
        if len(aes_key) != 43 or len(key) != 32:
            raise ValueError("DUBAN_WECOM_AES_KEY 应为企业微信后台生成的 43 位 EncodingAESKey")
        self.token = token
        self.corp_id = corp_id
        self._key = key
        self._library = WeChatCrypto(token, aes_key, corp_id)

    def signature(self, timestamp: str, nonce: str, encrypted: str) -> str:
        """WeCom's msg_signature: sha1 of the four strings sorted and concatenated."""
        joined = "".join(sorted((self.token, timestamp, nonce, encrypted)))
        return hashlib.sha1(joined.encode()).hexdigest()

    def check_signature(self, signature: str, timestamp: str, nonce: str, encrypted: str) -> None:
        expected = self.signature(timestamp, nonce, encrypted)
        if not hmac.compare_digest(expected.encode(), signature.lower().encode()):
            raise CallbackRejected(403, "签名校验失败（msg_signature 不匹配，请核对 Token）")

    def decrypt(self, encrypted: str) -> str:
        """The plaintext inside `encrypted` (signature already checked); 400 if it is not for this corp."""
        try:
            return str(PrpCrypto(self._key).decrypt(encrypted, self.corp_id))
        except InvalidCorpIdException as error:
            raise CallbackRejected(400, "消息不属于本企业（receiveid 与 DUBAN_WECOM_CORP_ID 不符）") from error
        except (ValueError, IndexError, struct.error, UnicodeDecodeError) as error:
            # Covers bad base64, a length that is not a whole number of AES blocks and garbled padding.
            raise CallbackRejected(400, "密文无法解密（请核对 EncodingAESKey）") from error

    def read_message(self, plaintext: str) -> BaseMessage:
        """The decrypted XML as a wechatpy message or event (screened for DTDs and parsed safely like the
        envelope: wechatpy's own parser raises on malformed XML with errors of its own)."""
        try:
            root = _parse_safely(plaintext.encode())
        except CallbackRejected as rejected:
            raise CallbackRejected(400, f"消息内容格式错误：{rejected.reason}") from None
        if root.tag != "xml":
            raise CallbackRejected(400, "消息内容格式错误：根元素应为 <xml>")
        for name, value in (("FromUserName", root.findtext("FromUserName")), ("MsgId", root.findtext("MsgId"))):
            # Both become VARCHAR(128) keys (the chat identity, the dedupe record): longer is not from WeCom.
            if value is not None and len(value) > ID_LENGTH:
                raise CallbackRejected(400, f"{name} 超过 {ID_LENGTH} 个字符")
        try:
            message = parse_message(plaintext)
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            raise CallbackRejected(400, "消息内容格式错误") from error
        if message is None or not isinstance(message.source, str) or not message.source:
            raise CallbackRejected(400, "消息缺少 FromUserName")
        return message

    @staticmethod
    def check_agent(message: BaseMessage, agent_id: int | None) -> None:
        """400 for a message addressed to another app of the corp (one corp's apps share its callback keys only
        if an administrator copied them, but a message for another app must never be answered as this one)."""
        raw = message._data.get("AgentID")  # wechatpy converts AgentID to int on access and raises on garbage
        if agent_id is None or raw is None:
            return
        if not str(raw).strip().isdigit() or int(str(raw).strip()) != agent_id:
            raise CallbackRejected(400, f"AgentID {str(raw)[:20]} 不是本应用（DUBAN_WECOM_AGENT_ID={agent_id}）")

    def encrypt_reply(self, message: BaseMessage, text: str, *, timestamp: int, nonce: str) -> str:
        """A passive text reply to `message`, encrypted and signed as WeCom expects it in the response body."""
        # wechatpy wraps the content in CDATA without escaping: a "]]>" in the text would end the section early.
        content = text.replace("]]>", "]]]]><![CDATA[>")
        reply = TextReply(message=message, content=content, time=timestamp)
        return str(self._library.encrypt_message(reply.render(), nonce, str(timestamp)))
