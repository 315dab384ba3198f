"""Small files of each kind, as a liaison's phone would send them, and a helper to send them to the simulator."""

from __future__ import annotations

import io
import zipfile

from fastapi.testclient import TestClient

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(64)
JPG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(64) + b"\xff\xd9"
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
EXE = b"MZ\x90\x00" + bytes(60) + b"This program cannot be run in DOS mode."
HTML = b"<html><script>alert(1)</script></html>"


def zipped(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


DOCX = zipped({"[Content_Types].xml": b"<Types/>", "word/document.xml": b"<w:document/>"})
XLSX = zipped({"[Content_Types].xml": b"<Types/>", "xl/workbook.xml": b"<workbook/>"})
DOCM = zipped({"word/document.xml": b"<w:document/>", "word/vbaProject.bin": b"\x00macro"})
ZIP = zipped({"案例一.docx": DOCX, "../../etc/passwd": b"root"})


def send_file(client: TestClient, user: str, name: str, data: bytes, text: str = "", **extra: str) -> str:
    """Upload a file as `user` through /sim/api/files; the bot's reply, joined."""
    response = client.post(
        "/sim/api/files",
        data={"user": user, "text": text, **extra},
        files={"file": (name, data, "application/octet-stream")},
    )
    assert response.status_code == 200, response.text
    replies = response.json()["replies"]
    assert replies, "every file gets a reply"
    return "\n".join(replies)
