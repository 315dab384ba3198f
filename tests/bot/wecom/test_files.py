"""Pictures and files sent to the WeCom app: acknowledged at once, fetched from media/get, filed, answered."""

from __future__ import annotations

import time

from sqlalchemy import select

from storage.db import transaction
from storage.models import Material, MaterialTarget
from tests.bot.wecom.fake_qyapi import GETTOKEN, MEDIA_GET, MESSAGE_SEND, FakeQyapi
from tests.bot.wecom.platform import WeComChat, WeComSide
from tests.conftest import Database
from tests.materials import JPG, PDF


def file_xml(side: WeComSide, user: str, msg_type: str, media_id: str, title: str = "") -> str:
    extra = f"<Title><![CDATA[{title}]]></Title>" if title else ""
    return (
        f"<xml><ToUserName><![CDATA[{side.corp_id}]]></ToUserName><FromUserName><![CDATA[{user}]]></FromUserName>"
        f"<CreateTime>{side.now()}</CreateTime><MsgType><![CDATA[{msg_type}]]></MsgType>"
        f"<MediaId><![CDATA[{media_id}]]></MediaId>{extra}<MsgId>{side.next_msg_id()}</MsgId>"
        f"<AgentID>{side.agent_id}</AgentID></xml>"
    )


def app_reply(wecom: WeComChat, qyapi: FakeQyapi, user: str, count: int) -> str:
    deadline = time.monotonic() + 10
    while len(wecom.app_messages(user)) < count and time.monotonic() < deadline:
        qyapi.wait_for(MESSAGE_SEND, len(qyapi.calls(MESSAGE_SEND)) + 1, timeout=0.5)
    return str(wecom.app_messages(user)[count - 1]["text"]["content"])


def materials(db: Database) -> list[Material]:
    with transaction(db.sessions) as session:
        return list(session.scalars(select(Material).order_by(Material.id)))


def test_a_picture_is_acknowledged_then_fetched_and_filed(
    wecom: WeComChat, side: WeComSide, qyapi: FakeQyapi, plan_loaded: Database
) -> None:
    assert "已登记" in wecom.send("MaQiang", "报送 行政裁量基准")
    qyapi.media["MEDIA-photo"] = ("IMG_0001.jpg", JPG)
    response = wecom.post(file_xml(side, "MaQiang", "image", "MEDIA-photo"))
    assert (response.status_code, response.content) == (200, b"")  # acknowledged within WeCom's 5 seconds
    reply = app_reply(wecom, qyapi, "MaQiang", 1)
    assert "已收到文件「IMG_0001.jpg」" in reply and "报送「行政裁量基准」的材料" in reply
    [material] = materials(plan_loaded)
    assert material.target is MaterialTarget.DELIVERABLE and material.kind == "jpg"
    [get] = qyapi.calls(MEDIA_GET)
    assert get.query["media_id"] == "MEDIA-photo" and get.query["access_token"].startswith("TOKEN-")
    assert len(qyapi.calls(GETTOKEN)) == 1  # the cached token, not one per download


def test_a_file_message_keeps_its_title(
    wecom: WeComChat, side: WeComSide, qyapi: FakeQyapi, plan_loaded: Database
) -> None:
    qyapi.media["MEDIA-doc"] = ("x.bin", PDF)
    wecom.post(file_xml(side, "MaQiang", "file", "MEDIA-doc", title="自查整改报告.pdf"))
    assert "请回复编号" in app_reply(wecom, qyapi, "MaQiang", 1)
    assert materials(plan_loaded)[0].name == "x.bin.pdf"  # the download's own name; the extension by content


def test_a_failing_download_is_retried_with_back_off(
    wecom: WeComChat, side: WeComSide, qyapi: FakeQyapi, plan_loaded: Database
) -> None:
    wecom.client.app.state.wecom.media_pauses = (0.0, 0.0, 0.0)  # type: ignore[attr-defined]
    qyapi.media["MEDIA-1"] = ("整改后.png", JPG)
    qyapi.fail_next(MEDIA_GET, {"errcode": -1, "errmsg": "system busy"}, {"errcode": -1, "errmsg": "system busy"})
    wecom.post(file_xml(side, "MaQiang", "image", "MEDIA-1"))
    assert "已收到文件「整改后.jpg」" in app_reply(wecom, qyapi, "MaQiang", 1)
    assert len(qyapi.calls(MEDIA_GET)) == 3


def test_the_liaison_is_told_when_the_download_finally_fails(
    wecom: WeComChat, side: WeComSide, qyapi: FakeQyapi, plan_loaded: Database
) -> None:
    wecom.client.app.state.wecom.media_pauses = (0.0, 0.0)  # type: ignore[attr-defined]
    busy = {"errcode": -1, "errmsg": "system busy"}
    qyapi.fail_next(MEDIA_GET, busy, busy, busy)
    wecom.post(file_xml(side, "MaQiang", "image", "MEDIA-gone"))
    assert "没能从平台取到这个文件" in app_reply(wecom, qyapi, "MaQiang", 1)
    assert len(qyapi.calls(MEDIA_GET)) == 3 and materials(plan_loaded) == []


def test_a_stranger_s_picture_is_refused_and_nothing_kept(
    wecom: WeComChat, side: WeComSide, qyapi: FakeQyapi, plan_loaded: Database
) -> None:
    qyapi.media["MEDIA-x"] = ("a.jpg", JPG)
    wecom.post(file_xml(side, "Nobody", "image", "MEDIA-x"))
    assert "还未登记为联络员" in app_reply(wecom, qyapi, "Nobody", 1)
    assert materials(plan_loaded) == []
