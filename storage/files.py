"""The file store: what liaisons send in chat, kept once per content (SHA-256), in a directory or in the database.

A file reaches the store in two steps. A channel *stages* it while it downloads (`Staging`): the bytes go to a
temporary file as they arrive, hashed and counted on the way, and the download stops past the size limit, so
a 20 MB file is never held in memory. The handler then decides whether to keep it (a registered liaison, an
allowed type) and `put`s it inside the message's transaction: `DatabaseFiles` writes it in chunks
(stored_file_chunks, so every replica sees it and pg_dump backs it up); `LocalFiles` moves it into a directory
(under var/ by default). Either way one row in stored_files describes it, and reading follows that row.

What is allowed is decided by the content (`sniff`), not the name: the office and image formats units hand in,
and zip archives (kept as they are, never unpacked). Nothing executable: an .exe renamed .pdf is refused.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import tempfile
import unicodedata
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Protocol

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from storage.models import StoredFile, StoredFileChunk

MAX_FILE_BYTES = 20 * 1024 * 1024  # WeCom's own limit for a file message
CHUNK_BYTES = 256 * 1024  # one row of stored_file_chunks; also the read size everywhere
NAME_LIMIT = 100  # characters of a kept file name

# The allowed kinds, by content, with the MIME type a download is served as.
MIME_TYPES = {
    "pdf": "application/pdf",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "ofd": "application/ofd",
    "wps": "application/vnd.ms-works",
    "et": "application/vnd.ms-excel",
    "jpg": "image/jpeg",
    "png": "image/png",
    "zip": "application/zip",
}
IMAGE_KINDS = frozenset({"jpg", "png"})
KIND_NAMES = "Word（docx）、Excel（xlsx）、PDF、OFD、WPS（wps/et）、JPG、PNG 图片或 zip 压缩包"

_OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # the compound file of WPS's own .wps/.et (and of old .doc/.xls)
_UNSAFE_NAME = re.compile(r'[\x00-\x1f\x7f<>:"/\\|?*\u200b-\u200f\u202a-\u202e\u2066-\u2069]')


class TooLarge(Exception):
    """More than MAX_FILE_BYTES arrived."""


@dataclass(frozen=True)
class StagedFile:
    """A downloaded file waiting for the handler's decision: its temporary path and what was learnt on the way."""

    path: Path
    size: int
    sha256: str
    kind: str | None  # None: not an allowed type

    def discard(self) -> None:
        self.path.unlink(missing_ok=True)


class Staging:
    """Write a file's bytes to a temporary file as they arrive, hashing and counting; past `limit`, TooLarge."""

    def __init__(self, *, name: str = "", limit: int = MAX_FILE_BYTES) -> None:
        self.name = name
        self.limit = limit
        self.size = 0
        self._hash = hashlib.sha256()
        handle, path = tempfile.mkstemp(prefix="duban-file-")
        self.path = Path(path)
        self._file = os.fdopen(handle, "wb")

    def write(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self.size > self.limit:
            self.abort()
            raise TooLarge
        self._hash.update(chunk)
        self._file.write(chunk)

    def abort(self) -> None:
        self._file.close()
        self.path.unlink(missing_ok=True)

    def finish(self) -> StagedFile:
        self._file.close()
        return StagedFile(self.path, self.size, self._hash.hexdigest(), sniff(self.path, self.name))


def stage_bytes(data: bytes, name: str = "") -> StagedFile:
    """A file already in memory (tests, small uploads), staged like a download."""
    staging = Staging(name=name)
    staging.write(data)
    return staging.finish()


def sniff(path: Path, name: str = "") -> str | None:
    """The file's kind read from its first bytes (and, for zip containers, its member names); None when it is
    not one of the allowed kinds. `name` only tells WPS's .wps/.et from other compound files."""
    with path.open("rb") as file:
        head = file.read(8)
    if head.startswith(b"%PDF-"):
        return "pdf"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head.startswith(b"\xff\xd8\xff"):
        return "jpg"
    if head.startswith(_OLE2):
        extension = name.rsplit(".", 1)[-1].casefold() if "." in name else ""
        return extension if extension in ("wps", "et") else None
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return _zip_kind(path)
    return None


def _zip_kind(path: Path) -> str | None:
    try:
        with zipfile.ZipFile(path) as archive:  # reads the central directory only
            names = set(archive.namelist())
    except (zipfile.BadZipFile, OSError, ValueError):
        return None
    if any(n.endswith("vbaProject.bin") for n in names):
        return None  # an Office file with macros: executable
    if "word/document.xml" in names:
        return "docx"
    if "xl/workbook.xml" in names:
        return "xlsx"
    if "OFD.xml" in names:
        return "ofd"
    return "zip"


def clean_name(raw: str, kind: str) -> str:
    """A file name safe to store and to offer as a download: the last path component, without control,
    direction-override or reserved characters, not starting with a dot, ending in the extension of its kind."""
    name = unicodedata.normalize("NFC", raw or "")
    name = re.split(r"[/\\]", name)[-1]
    name = _UNSAFE_NAME.sub("", name).strip().lstrip(".").strip()
    stem, dot, extension = name.rpartition(".")
    if not dot:
        stem, extension = name, ""
    extension = extension.casefold()
    if extension == "jpeg" and kind == "jpg":
        extension = "jpg"
    if extension != kind and extension not in MIME_TYPES and extension != "jpeg":
        stem = name  # 总结.exe stays visible as 总结.exe.pdf; a wrong known extension (照片.png of a JPEG) is replaced
    stem = stem[: NAME_LIMIT - len(kind) - 1].strip() or "文件"
    return f"{stem}.{kind}"


class FileStore(Protocol):
    location: str

    def put(self, session: Session, staged: StagedFile, *, now: datetime) -> StoredFile: ...


def _row(session: Session, staged: StagedFile, location: str, now: datetime) -> tuple[StoredFile, bool]:
    assert staged.kind is not None, "only allowed kinds are stored"
    found = session.get(StoredFile, staged.sha256)
    if found is not None:
        return found, False
    row = StoredFile(sha256=staged.sha256, size=staged.size, kind=staged.kind, location=location, created_at=now)
    session.add(row)
    session.flush()
    return row, True


class DatabaseFiles:
    """Files in the database, in CHUNK_BYTES rows: written and read a chunk at a time."""

    location = "database"

    def put(self, session: Session, staged: StagedFile, *, now: datetime) -> StoredFile:
        row, created = _row(session, staged, self.location, now)
        if created:
            write_chunks(session, staged.sha256, staged.path)
        return row


def write_chunks(session: Session, sha256: str, path: Path) -> None:
    with path.open("rb") as file:
        for seq, chunk in enumerate(iter(lambda: file.read(CHUNK_BYTES), b"")):
            session.execute(insert(StoredFileChunk), [{"sha256": sha256, "seq": seq, "data": chunk}])


class LocalFiles:
    """Files in a directory, at <root>/<ab>/<sha256>: moved in atomically, never overwritten (same name, same
    bytes)."""

    location = "local"

    def __init__(self, root: Path) -> None:
        self.root = root

    def path_of(self, sha256: str) -> Path:
        return self.root / sha256[:2] / sha256

    def put(self, session: Session, staged: StagedFile, *, now: datetime) -> StoredFile:
        row, _ = _row(session, staged, self.location, now)
        target = self.path_of(staged.sha256)
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            partial = target.with_name(f".{target.name}.{os.getpid()}.part")
            shutil.copyfile(staged.path, partial)
            os.replace(partial, target)
        return row


class Files:
    """The configured store for new files, and reading any stored file wherever its row says it is."""

    def __init__(self, store: FileStore, local_root: Path | None = None) -> None:
        self.store = store
        self.local = store if isinstance(store, LocalFiles) else LocalFiles(local_root or Path("var/files"))

    @classmethod
    def from_setting(cls, kind: str, root: Path) -> Files:
        return cls(LocalFiles(root) if kind == "local" else DatabaseFiles(), root)

    def put(self, session: Session, staged: StagedFile, *, now: datetime) -> StoredFile:
        return self.store.put(session, staged, now=now)

    def read(self, session: Session, sha256: str) -> Iterator[bytes]:
        """The file's bytes, a chunk at a time (the session must stay open while the iterator is used)."""
        row = session.get(StoredFile, sha256)
        if row is None:
            raise FileNotFoundError(sha256)
        if row.location == "database":
            seqs = session.scalars(
                select(StoredFileChunk.seq).where(StoredFileChunk.sha256 == sha256).order_by(StoredFileChunk.seq)
            ).all()
            for seq in seqs:
                yield session.scalars(
                    select(StoredFileChunk.data).where(StoredFileChunk.sha256 == sha256, StoredFileChunk.seq == seq)
                ).one()
            return
        with self.local.path_of(sha256).open("rb") as file:
            yield from iter(lambda: file.read(CHUNK_BYTES), b"")

    def read_all(self, session: Session, sha256: str) -> bytes:
        return b"".join(self.read(session, sha256))


def import_local_files(session: Session, root: Path) -> int:
    """Move the bytes of every `local` file found under `root` into the database (duban db copy --files-dir):
    afterwards every replica can read them. Returns how many files moved."""
    moved = 0
    local = LocalFiles(root)
    for row in session.scalars(select(StoredFile).where(StoredFile.location == "local")).all():
        path = local.path_of(row.sha256)
        if not path.exists():
            continue
        session.execute(delete(StoredFileChunk).where(StoredFileChunk.sha256 == row.sha256))
        write_chunks(session, row.sha256, path)
        row.location = "database"
        moved += 1
    session.flush()
    return moved
