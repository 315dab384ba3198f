"""WeCom's own published WXBizMsgCrypt sample vectors, through the callback endpoint (and the test helper)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import select

from bot.app import create_app
from bot.wecom.crypto import CallbackRejected, WeComCrypto
from core.clock import ManualClock
from storage.db import transaction
from storage.models import ProcessedMessage
from tests.bot.wecom.conftest import AES_KEY, wecom_settings
from tests.bot.wecom.fake_qyapi import FakeQyapi
from tests.bot.wecom.platform import WeComSide
from tests.conftest import FIXTURES, Database

# A copy of shared/data/wecom-official-vectors.json, so the suite does not depend on files outside the repo.
SAMPLE = json.loads((FIXTURES / "wecom-official-vectors.json").read_text(encoding="utf-8"))["sample_1"]


def official_app(db: Database, qyapi: FakeQyapi, at_timestamp: str) -> TestClient:
    """The app configured with the sample's corp, Token and EncodingAESKey, its clock at the sample's time."""
    clock = ManualClock(datetime.fromtimestamp(int(at_timestamp), UTC))
    settings = wecom_settings(
        db,
        qyapi,
        wecom_corp_id=SAMPLE["corp_id"],
        wecom_token=SAMPLE["token"],
        wecom_aes_key=SAMPLE["encoding_aes_key"],
        wecom_agent_id=218,
    )
    return TestClient(create_app(settings, clock=clock))


def test_url_verification_returns_the_official_plaintext(plan_loaded: Database, qyapi: FakeQyapi) -> None:
    verify = SAMPLE["verify_url"]
    with official_app(plan_loaded, qyapi, verify["timestamp"]) as client:
        response = client.get(
            "/wecom/callback", params={k: verify[k] for k in ("msg_signature", "timestamp", "nonce", "echostr")}
        )
    assert response.status_code == 200
    assert response.text == verify["plaintext"]  # the bare plaintext, not JSON
    assert response.headers["content-type"].startswith("text/plain")


def test_the_official_hello_message_is_decrypted_handled_and_answered(plan_loaded: Database, qyapi: FakeQyapi) -> None:
    sample = SAMPLE["message"]
    expected = sample["decrypted"]
    side = WeComSide(
        corp_id=SAMPLE["corp_id"],
        token=SAMPLE["token"],
        aes_key=SAMPLE["encoding_aes_key"],
        agent_id=218,
        clock=ManualClock(datetime.fromtimestamp(int(sample["timestamp"]), UTC)),
    )
    body = side.envelope(sample["encrypt"])
    params = {k: sample[k] for k in ("msg_signature", "timestamp", "nonce")}
    with official_app(plan_loaded, qyapi, sample["timestamp"]) as client:
        response = client.post("/wecom/callback", params=params, content=body)
    assert response.status_code == 200, response.text
    reply = side.read_reply(response)
    assert reply["ToUserName"] == expected["FromUserName"] == "mycreate"
    assert reply["FromUserName"] == SAMPLE["corp_id"] and reply["AgentID"] == expected["AgentID"]
    assert reply["Content"].startswith("您好！") and "发送「登记」" in reply["Content"]  # "hello": a greeting
    with transaction(plan_loaded.sessions) as session:
        record = session.scalars(select(ProcessedMessage)).one()
    assert (record.platform, record.message_id) == ("wecom", expected["MsgId"])


def test_the_test_helper_reads_the_official_vectors_like_wecom() -> None:
    """The helper that builds every other test's callbacks agrees with WeCom's own samples."""
    side = WeComSide(
        corp_id=SAMPLE["corp_id"],
        token=SAMPLE["token"],
        aes_key=SAMPLE["encoding_aes_key"],
        agent_id=218,
        clock=ManualClock(datetime.now(UTC)),
    )
    message = SAMPLE["message"]
    assert side.sign(message["timestamp"], message["nonce"], message["encrypt"]) == message["msg_signature"]
    assert "<Content><![CDATA[hello]]></Content>" in side.decrypt(message["encrypt"])
    assert side.decrypt(SAMPLE["verify_url"]["echostr"]) == SAMPLE["verify_url"]["plaintext"]


def test_a_reply_with_a_cdata_terminator_still_round_trips(side: WeComSide) -> None:
    crypto = WeComCrypto(token=side.token, aes_key=AES_KEY, corp_id=side.corp_id)
    message = crypto.read_message(side.text_xml("MaQiang", "hi", "1"))
    encrypted = crypto.encrypt_reply(message, "问题「a]]>b」已登记", timestamp=1594778400, nonce="n")
    assert side.read_reply(Response(200, content=encrypted.encode()))["Content"] == "问题「a]]>b」已登记"


def test_a_wrong_encoding_aes_key_is_refused_at_start() -> None:
    with pytest.raises(ValueError, match="43 位"):
        WeComCrypto(token="t", aes_key="too-short", corp_id="ww1")
    with pytest.raises(CallbackRejected):
        WeComCrypto(token="t", aes_key=AES_KEY, corp_id="ww1").decrypt("not base64!")
