"""Materials through chat, told through the simulator: files for a deliverable, evidence for an issue, bad input."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from bot.app import create_app
from core.clock import ManualClock
from plan.schema import read_plan
from plan.sync import load_plan
from storage.db import transaction
from storage.files import MAX_FILE_BYTES
from storage.models import Campaign, Issue, IssueStatus, Material, MaterialTarget, StoredFile, Submission
from tests.conftest import FIXTURES, Database, SimChat, make_settings
from tests.materials import DOCM, DOCX, EXE, HTML, JPG, PDF, PNG, XLSX, ZIP, send_file

ISSUE = (
    "问题\n线索名称：执法证件未按期年检\n线索来源：专项检查\n整治重点：队伍建设\n线索内容：3名执法人员证件过期\n"
    "整改措施：组织补办年检\n整改目标：全部持证上岗\n责任人：张三\n完成时限：9月10日前"
)


def materials(db: Database) -> list[Material]:
    with transaction(db.sessions) as session:
        return list(session.scalars(select(Material).order_by(Material.id)))


def stored(db: Database) -> int:
    with transaction(db.sessions) as session:
        return int(session.scalar(select(func.count()).select_from(StoredFile)) or 0)


def test_file_after_submit_belongs_to_the_deliverable(client: TestClient, chat: SimChat, plan_loaded: Database) -> None:
    assert "已登记「执法监察支队」报送「行政裁量基准」" in chat.send("MaQiang", "报送 行政裁量基准")
    reply = send_file(client, "MaQiang", "行政裁量基准.docx", DOCX)
    assert "已收到文件「行政裁量基准.docx」" in reply and "报送「行政裁量基准」的材料" in reply and "共 1 份" in reply
    reply = send_file(client, "MaQiang", "附表.xlsx", XLSX)  # a second file of the same submission
    assert "共 2 份" in reply and "替换" not in reply
    [first, second] = materials(plan_loaded)
    assert first.target is MaterialTarget.DELIVERABLE and second.deliverable_id == first.deliverable_id
    assert (first.kind, second.kind) == ("docx", "xlsx")


def test_a_bare_file_asks_with_numbered_choices_and_the_answer_files_it(
    client: TestClient, chat: SimChat, plan_loaded: Database
) -> None:
    reply = send_file(client, "MaQiang", "总结.pdf", PDF)
    assert "这个文件是什么材料？请回复编号" in reply
    assert "1. 报送「专项整治联系人」" in reply and "2. 报送「行政裁量基准」" in reply and "本周周报的附件" in reply
    assert materials(plan_loaded)[0].target is None  # kept aside, waiting
    reply = chat.send("MaQiang", "报送 2")
    assert "已作为报送「行政裁量基准」的材料保存 1 个文件" in reply
    assert "已登记「执法监察支队」报送「行政裁量基准」" in reply
    with transaction(plan_loaded.sessions) as session:
        assert session.scalar(select(func.count()).select_from(Submission)) == 1


@pytest.mark.parametrize("answer", ["2", "第2项", "报送２", "行政裁量基准"])
def test_the_numbered_question_takes_the_ways_people_answer(
    client: TestClient, chat: SimChat, plan_loaded: Database, answer: str
) -> None:
    send_file(client, "MaQiang", "基准.pdf", PDF)
    assert "报送「行政裁量基准」的材料" in chat.send("MaQiang", answer)


def test_two_files_then_one_answer_files_both(client: TestClient, chat: SimChat, plan_loaded: Database) -> None:
    send_file(client, "MaQiang", "一.jpg", JPG)
    assert "这 2 个文件是什么材料" in send_file(client, "MaQiang", "二.png", PNG)
    assert "保存 2 个文件" in chat.send("MaQiang", "周报")
    assert {m.target for m in materials(plan_loaded)} == {MaterialTarget.WEEKLY}


def test_a_caption_says_where_the_file_goes(client: TestClient, chat: SimChat, plan_loaded: Database) -> None:
    chat.send("MaQiang", ISSUE)
    reply = send_file(client, "MaQiang", "整改后.jpg", JPG, text="#1")
    assert "#1「执法证件未按期年检」的佐证材料" in reply
    reply = send_file(client, "MaQiang", "报告.pdf", PDF, text="报送 行政裁量基准")
    assert "报送「行政裁量基准」的材料" in reply


def test_later_file_for_the_same_deliverable_asks_replace_or_add(
    client: TestClient, chat: SimChat, plan_loaded: Database, clock: ManualClock
) -> None:
    send_file(client, "MaQiang", "初稿.docx", DOCX, text="报送 行政裁量基准")
    clock.advance(timedelta(days=1))
    reply = send_file(client, "MaQiang", "定稿.docx", DOCX + b"\x00", text="报送 行政裁量基准")
    assert "已报送「行政裁量基准」的材料 1 份（初稿.docx）" in reply and "回复「替换」或「追加」" in reply
    assert "已替换原文件" in chat.send("MaQiang", "替换") and "共 1 份" in chat.send("MaQiang", "材料") + "共 1 份"
    current = [m.name for m in materials(plan_loaded) if m.replaced_at is None]
    assert current == ["定稿.docx"]
    clock.advance(timedelta(days=1))
    send_file(client, "MaQiang", "附件.pdf", PDF, text="报送 行政裁量基准")
    assert "共 2 份" in chat.send("MaQiang", "追加")


def test_evidence_required_holds_rectified_until_a_photo_arrives(
    client: TestClient, chat: SimChat, plan_loaded: Database
) -> None:
    with transaction(plan_loaded.sessions) as session:
        session.scalars(select(Campaign)).one().evidence_focus_areas = ["队伍建设"]
    chat.send("MaQiang", ISSUE)
    reply = chat.send("MaQiang", "#1 已整改")
    assert "需要佐证材料才能销号" in reply
    with transaction(plan_loaded.sessions) as session:
        assert session.scalars(select(Issue)).one().status is IssueStatus.OPEN
    reply = send_file(client, "MaQiang", "整改后照片.jpg", JPG)
    assert "#1「执法证件未按期年检」的佐证材料" in reply and "已整改，已销号" in reply
    with transaction(plan_loaded.sessions) as session:
        assert session.scalars(select(Issue)).one().status is IssueStatus.RECTIFIED


def test_progress_with_a_photo_caption_counts_as_evidence(
    client: TestClient, chat: SimChat, plan_loaded: Database
) -> None:
    with transaction(plan_loaded.sessions) as session:
        session.scalars(select(Campaign)).one().evidence_required = True
    chat.send("MaQiang", ISSUE)
    reply = send_file(client, "MaQiang", "证件.png", PNG, text="进展 #1 已整改 证件已全部年检")
    assert "佐证材料" in reply and "已整改，已销号" in reply


def test_files_waiting_go_with_the_next_progress_report(
    client: TestClient, chat: SimChat, plan_loaded: Database
) -> None:
    with transaction(plan_loaded.sessions) as session:
        session.scalars(select(Campaign)).one().evidence_required = True
    chat.send("MaQiang", ISSUE)
    send_file(client, "MaQiang", "照片.jpg", JPG)
    reply = chat.send("MaQiang", "进展 #1 已整改")
    assert "佐证材料保存 1 个文件" in reply and "已销号" in reply


# --- bad input --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "data", "said"),
    [
        ("setup.exe", EXE, "不是其中之一"),
        ("报告.pdf", EXE, "不是其中之一"),  # an executable renamed
        ("page.html", HTML, "不是其中之一"),
        ("宏.docx", DOCM, "不是其中之一"),
        ("空.pdf", b"", "是空的"),
    ],
)
def test_bad_files_are_refused_and_nothing_is_kept(
    client: TestClient, plan_loaded: Database, name: str, data: bytes, said: str
) -> None:
    assert said in send_file(client, "MaQiang", name, data)
    assert materials(plan_loaded) == [] and stored(plan_loaded) == 0


def test_a_file_over_20_mb_is_refused_in_chinese(client: TestClient, plan_loaded: Database) -> None:
    reply = send_file(client, "MaQiang", "大.pdf", PDF + bytes(MAX_FILE_BYTES))
    assert "文件超过 20 MB" in reply and materials(plan_loaded) == []


def test_an_upload_far_over_the_limit_is_cut_off(client: TestClient, plan_loaded: Database) -> None:
    response = client.post(
        "/sim/api/files",
        data={"user": "MaQiang"},
        files={"file": ("huge.pdf", PDF + bytes(MAX_FILE_BYTES + 200_000), "application/pdf")},
    )
    assert response.status_code == 413 and materials(plan_loaded) == []


def test_a_stranger_s_file_is_refused_and_nothing_kept(client: TestClient, plan_loaded: Database) -> None:
    assert "还未登记为联络员" in send_file(client, "stranger1", "a.pdf", PDF)
    assert "材料由各单位联络员报送" in send_file(client, "YuJianKui", "a.pdf", PDF)
    assert materials(plan_loaded) == [] and stored(plan_loaded) == 0


def test_a_zip_is_stored_as_it_is(client: TestClient, plan_loaded: Database) -> None:
    send_file(client, "MaQiang", "典型案例.zip", ZIP, text="周报")
    [material] = materials(plan_loaded)
    assert material.kind == "zip" and material.name == "典型案例.zip"


@pytest.mark.parametrize(
    ("name", "kept"),
    [
        ("../../etc/passwd.pdf", "passwd.pdf"),
        ("C:\\Windows\\报告.pdf", "报告.pdf"),
        ("报告\u202egpj.pdf", "报告gpj.pdf"),
        (".bashrc", "bashrc.pdf"),
        ("总结.exe", "总结.exe.pdf"),
    ],
)
def test_names_with_paths_or_control_characters_are_cleaned(
    client: TestClient, plan_loaded: Database, name: str, kept: str
) -> None:
    send_file(client, "MaQiang", name, PDF, text="周报")
    assert materials(plan_loaded)[0].name == kept


def test_the_same_file_twice_is_stored_once(client: TestClient, plan_loaded: Database) -> None:
    send_file(client, "MaQiang", "a.pdf", PDF, text="周报")
    send_file(client, "WangFang", "b.pdf", PDF, text="周报")
    assert len(materials(plan_loaded)) == 2 and stored(plan_loaded) == 1


def test_cancel_drops_the_waiting_file(client: TestClient, chat: SimChat, plan_loaded: Database) -> None:
    send_file(client, "MaQiang", "a.pdf", PDF)
    assert "1 个文件没有保存" in chat.send("MaQiang", "取消")
    assert materials(plan_loaded) == []


def test_coordinator_asks_for_a_deliverable_s_materials(
    client: TestClient, chat: SimChat, plan_loaded: Database
) -> None:
    send_file(client, "MaQiang", "基准.pdf", PDF, text="报送 行政裁量基准")
    reply = chat.send("YuJianKui", "材料 裁量基准")
    assert "1/2 个单位已报送文件，共 1 份" in reply and "执法监察支队（1份）" in reply and "尚未报送：法制科" in reply


def test_local_directory_store(plan_loaded: Database, clock: ManualClock, tmp_path: Path) -> None:
    settings = make_settings(plan_loaded, file_store="local", files_dir=tmp_path / "files")
    with TestClient(create_app(settings, clock=clock)) as client:
        send_file(client, "MaQiang", "a.pdf", PDF, text="周报")
    [material] = materials(plan_loaded)
    path = tmp_path / "files" / material.sha256[:2] / material.sha256
    assert path.read_bytes() == PDF


def test_the_plan_asks_for_evidence_per_campaign_or_per_focus_area(
    plan_loaded: Database, clock: ManualClock, tmp_path: Path
) -> None:
    text = (FIXTURES / "plan.yaml").read_text(encoding="utf-8")
    text = text.replace("队伍建设, 责任追究]", "{name: 队伍建设, evidence_required: true}, 责任追究]")
    (tmp_path / "plan.yaml").write_text(text, encoding="utf-8")
    with transaction(plan_loaded.sessions) as session:
        load_plan(session, read_plan(tmp_path / "plan.yaml"), now=clock.now())
        campaign = session.scalars(select(Campaign)).one()
        assert campaign.focus_areas[3] == "队伍建设" and campaign.evidence_focus_areas == ["队伍建设"]
        assert campaign.evidence_required is False
    text = text.replace("  issuer: 中卫市司法局", "  issuer: 中卫市司法局\n  evidence_required: true")
    (tmp_path / "plan.yaml").write_text(text, encoding="utf-8")
    with transaction(plan_loaded.sessions) as session:
        load_plan(session, read_plan(tmp_path / "plan.yaml"), now=clock.now())
        assert session.scalars(select(Campaign)).one().evidence_required is True


def test_a_file_in_the_middle_of_a_dialog_keeps_the_dialog(
    client: TestClient, chat: SimChat, plan_loaded: Database
) -> None:
    assert "线索来源" in chat.send("MaQiang", "问题 执法证件未按期年检")
    reply = send_file(client, "MaQiang", "照片.jpg", JPG)
    assert "您正在填写的内容保留着" in reply
    assert "线索来源" in chat.send("MaQiang", "继续")  # the dialog is where it was
    assert "已登记问题 #1" in chat.send(
        "MaQiang",
        "线索来源：专项检查 整治重点：队伍建设 线索内容：证件过期 "
        "整改措施：补办 整改目标：持证 责任人：张三 完成时限：9月10日",
    )
    assert "保存 1 个文件" in chat.send("MaQiang", "材料 #1")
