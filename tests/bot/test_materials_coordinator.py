"""What coordinators get from the files units sent: dashboard pages, downloads, the zip, the CLI and db copy."""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from typer.testing import CliRunner

from bot.app import create_app
from bot.cli import app as cli_app
from core.clock import ManualClock
from storage.copy import copy_database
from storage.db import make_engine, make_session_factory, transaction
from storage.files import Files
from storage.models import Material, StoredFile
from tests.conftest import Database, make_settings
from tests.deploy.databases import fresh_database
from tests.factories import set_password
from tests.materials import DOCX, HTML, JPG, PDF, PNG, send_file

ISSUE = (
    "问题\n线索名称：执法证件未按期年检\n线索来源：专项检查\n整治重点：队伍建设\n线索内容：3名执法人员证件过期\n"
    "整改措施：组织补办年检\n整改目标：全部持证上岗\n责任人：张三\n完成时限：9月10日前"
)


@pytest.fixture
def signed_in(plan_loaded: Database, clock: ManualClock) -> Iterator[TestClient]:
    set_password(plan_loaded)
    with TestClient(create_app(make_settings(plan_loaded, secret_key="k"), clock=clock)) as client:
        token = re.search(r'name="csrf" value="([^"]+)"', client.get("/dashboard/login").text).group(1)  # type: ignore[union-attr]
        client.post("/dashboard/login", data={"login": "yu", "password": "correct horse", "csrf": token})
        yield client


@pytest.fixture
def target(plan_loaded: Database, tmp_path: Path) -> Iterator[str]:
    yield from fresh_database(plan_loaded.backend, tmp_path, "target")


def sent_files(client: TestClient) -> None:
    send_file(client, "MaQiang", "裁量基准.docx", DOCX, text="报送 行政裁量基准")
    send_file(client, "MaQiang", "附表.pdf", PDF, text="报送 行政裁量基准")
    send_file(client, "WangFang", "总结.pdf", PDF + b"\n", text="报送 专项整治工作总结及统计表")


def test_deliverable_page_lists_who_sent_what_and_the_zip_holds_a_folder_per_unit(signed_in: TestClient) -> None:
    sent_files(signed_in)
    overview = signed_in.get("/dashboard/materials").text
    assert "行政裁量基准" in overview and "1/2" in overview
    deliverable_id = re.search(r'/dashboard/materials/(\d+)">行政裁量基准', overview).group(1)  # type: ignore[union-attr]
    page = signed_in.get(f"/dashboard/materials/{deliverable_id}").text
    assert "执法监察支队" in page and "裁量基准.docx" in page and "马强" in page and "尚未报送文件" in page
    response = signed_in.get(f"/dashboard/materials/{deliverable_id}/zip")
    assert response.status_code == 200 and response.headers["content-type"] == "application/zip"
    assert "attachment" in response.headers["content-disposition"]
    with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
        assert sorted(archive.namelist()) == [
            "执法监察支队/执法监察支队-裁量基准.docx",
            "执法监察支队/执法监察支队-附表.pdf",
        ]
        assert archive.read("执法监察支队/执法监察支队-附表.pdf") == PDF


def test_downloads_are_attachments_never_html(signed_in: TestClient, plan_loaded: Database) -> None:
    send_file(signed_in, "MaQiang", "page.html", HTML, text="周报")  # refused: not an allowed kind
    send_file(signed_in, "MaQiang", "<script>.pdf", PDF, text="周报")
    [material] = list_materials(plan_loaded)
    response = signed_in.get(f"/dashboard/files/{material.id}")
    assert response.content == PDF and response.headers["content-type"] == "application/pdf"
    assert response.headers["content-disposition"].startswith("attachment;")
    assert response.headers["x-content-type-options"] == "nosniff"
    assert signed_in.get(f"/dashboard/files/{material.id}/picture").status_code == 404  # only pictures inline


def test_issue_evidence_shows_thumbnails(signed_in: TestClient, plan_loaded: Database) -> None:
    SimSend(signed_in).send("MaQiang", ISSUE)
    send_file(signed_in, "MaQiang", "整改前.jpg", JPG, text="#1")
    send_file(signed_in, "MaQiang", "整改后.png", PNG, text="#1")
    page = signed_in.get("/dashboard/issues/1/evidence").text
    assert page.count('class="thumb"') == 2 and "整改前.jpg" in page
    picture = signed_in.get(re.search(r'src="(/dashboard/files/\d+/picture)"', page).group(1))  # type: ignore[union-attr]
    assert picture.headers["content-type"] == "image/jpeg" and picture.content == JPG
    assert "/dashboard/issues/1/evidence" in signed_in.get("/dashboard/issues/1").text


def test_files_need_a_signed_in_coordinator(client: TestClient, plan_loaded: Database) -> None:
    send_file(client, "MaQiang", "a.pdf", PDF, text="周报")
    [material] = list_materials(plan_loaded)
    assert client.get(f"/dashboard/files/{material.id}", follow_redirects=False).status_code == 303


def test_annex2_remark_counts_evidence(
    client: TestClient, plan_loaded: Database, tmp_path: Path, clock: ManualClock
) -> None:
    from openpyxl import load_workbook

    from exports.tables import export_issues

    SimSend(client).send("MaQiang", ISSUE)
    send_file(client, "MaQiang", "a.jpg", JPG, text="#1")
    send_file(client, "MaQiang", "b.png", PNG, text="#1")
    out = tmp_path / "附件2.xlsx"
    with transaction(plan_loaded.sessions) as session:
        from storage.repos import Campaigns

        export_issues(session, Campaigns(session).current(), out, today=clock.now().date())  # type: ignore[arg-type]
    cells = [str(c.value) for row in load_workbook(out).active.iter_rows() for c in row if c.value]
    assert any("佐证材料 2 份" in c for c in cells)


def test_cli_exports_the_zip(
    client: TestClient, plan_loaded: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sent_files(client)
    monkeypatch.setenv("DUBAN_DATABASE_URL", plan_loaded.url)
    monkeypatch.setenv("DUBAN_FILE_STORE", "database")
    out = tmp_path / "基准.zip"
    result = CliRunner().invoke(cli_app, ["materials", "export", "--deliverable", "裁量基准", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "共 2 个文件" in result.output
    with zipfile.ZipFile(out) as archive:
        assert len(archive.namelist()) == 2
    result = CliRunner().invoke(cli_app, ["materials", "export", "--deliverable", "不存在的", "--out", str(out)])
    assert result.exit_code == 1 and "没有报送事项" in result.output


def test_db_copy_moves_local_files_into_the_target_database(
    plan_loaded: Database, clock: ManualClock, tmp_path: Path, target: str
) -> None:
    if plan_loaded.backend != "sqlite":
        pytest.skip("the embedded deployment (SQLite + a local directory) is the one that moves")
    settings = make_settings(plan_loaded, file_store="local", files_dir=tmp_path / "files")
    with TestClient(create_app(settings, clock=clock)) as client:
        send_file(client, "MaQiang", "a.pdf", PDF, text="周报")
    result = CliRunner().invoke(
        cli_app, ["db", "copy", "--from", plan_loaded.url, "--to", target, "--files-dir", str(tmp_path / "files")]
    )
    assert result.exit_code == 0, result.output
    assert "1 个文件已写入目标库" in result.output
    engine = make_engine(target)
    with transaction(make_session_factory(engine)) as session:
        row = session.scalars(select(StoredFile)).one()
        assert row.location == "database"
        assert Files.from_setting("database", tmp_path / "nowhere").read_all(session, row.sha256) == PDF
    engine.dispose()


def test_copy_of_chunks_between_databases(
    plan_loaded: Database, client: TestClient, tmp_path: Path, target: str
) -> None:
    send_file(client, "MaQiang", "big.pdf", PDF + bytes(600_000), text="周报")  # three chunks
    counts = copy_database(plan_loaded.url, target)
    assert all(c.matches for c in counts)
    engine = make_engine(target)
    with transaction(make_session_factory(engine)) as session:
        sha = session.scalars(select(Material.sha256)).one()
        assert Files.from_setting("database", tmp_path).read_all(session, sha) == PDF + bytes(600_000)
    engine.dispose()


def list_materials(db: Database) -> list[Material]:
    with transaction(db.sessions) as session:
        return list(session.scalars(select(Material).order_by(Material.id)))


class SimSend:
    def __init__(self, client: TestClient) -> None:
        self.client = client

    def send(self, user: str, text: str) -> str:
        response = self.client.post("/sim/api/messages", json={"user": user, "text": text})
        assert response.status_code == 200
        return "\n".join(response.json()["replies"])
