"""Pictures and files sent to the DingTalk robot: downloadCode → messageFiles/download → the file, retried."""

from __future__ import annotations

import copy

from fastapi.testclient import TestClient
from sqlalchemy import select

from storage.db import transaction
from storage.models import Material, MaterialTarget
from tests.bot.dingtalk.conftest import MA_STAFF, DingTalkChat, payload
from tests.bot.dingtalk.fake_dingtalk import FILE_DOWNLOAD, FILE_URL, SESSION, FakeDingTalk
from tests.conftest import Database
from tests.materials import PDF


def file_message(ding: DingTalkChat, code: str, name: str) -> dict[str, object]:
    body = copy.deepcopy(payload("picture"))
    body.update(ding.message(MA_STAFF, "x"))
    body["msgtype"] = "file"
    body["content"] = {"downloadCode": code, "fileName": name, "spaceId": "1", "fileId": "2"}
    body.pop("text", None)
    return body


def materials(db: Database) -> list[Material]:
    with transaction(db.sessions) as session:
        return list(session.scalars(select(Material).order_by(Material.id)))


def test_a_file_after_submit_is_downloaded_and_filed(
    ding: DingTalkChat, dingtalk_people: Database, fake_dingtalk: FakeDingTalk
) -> None:
    assert "已登记" in ding.send(MA_STAFF, "报送 行政裁量基准")
    fake_dingtalk.files["code-1"] = ("行政裁量基准.pdf", PDF)
    response = ding.post(file_message(ding, "code-1", "行政裁量基准.pdf"))
    assert (response.status_code, response.json()) == (200, {})
    [reply] = fake_dingtalk.wait_for(SESSION)
    assert "报送「行政裁量基准」的材料" in reply.body["text"]["content"]
    [material] = materials(dingtalk_people)
    assert material.target is MaterialTarget.DELIVERABLE and material.platform == "dingtalk"


def test_a_failing_download_is_retried_then_the_liaison_is_told(
    ding: DingTalkChat, dingtalk_client: TestClient, dingtalk_people: Database, fake_dingtalk: FakeDingTalk
) -> None:
    dingtalk_client.app.state.dingtalk.media_pauses = (0.0, 0.0)  # type: ignore[attr-defined]
    for _ in range(3):
        fake_dingtalk.script(FILE_DOWNLOAD, {"code": "ServiceUnavailable"}, status=503)
    ding.post(file_message(ding, "code-x", "a.pdf"))
    [reply] = fake_dingtalk.wait_for(SESSION)
    assert "没能从平台取到这个文件" in reply.body["text"]["content"]
    assert len(fake_dingtalk.calls(FILE_DOWNLOAD)) == 3 and materials(dingtalk_people) == []


def test_one_failure_then_success(
    ding: DingTalkChat, dingtalk_client: TestClient, dingtalk_people: Database, fake_dingtalk: FakeDingTalk
) -> None:
    dingtalk_client.app.state.dingtalk.media_pauses = (0.0, 0.0)  # type: ignore[attr-defined]
    fake_dingtalk.files["code-2"] = ("b.pdf", PDF)
    fake_dingtalk.script(FILE_DOWNLOAD, {"code": "ServiceUnavailable"}, status=503)
    ding.post(file_message(ding, "code-2", "b.pdf"))
    [reply] = fake_dingtalk.wait_for(SESSION)
    assert "已收到文件「b.pdf」" in reply.body["text"]["content"]
    assert len(fake_dingtalk.calls(FILE_URL)) == 1
