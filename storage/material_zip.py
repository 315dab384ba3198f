"""One zip of every file units sent for a deliverable: a folder per unit, each file named `单位-原文件名`.

Written a chunk at a time into the output (a file or any seekable stream), so neither the files nor the zip are
ever held whole in memory. Pictures and archives are stored as they are (already compressed); documents deflated.
"""

from __future__ import annotations

import zipfile
from typing import IO

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.files import Files
from storage.models import Deliverable, Material, Unit

_STORED_KINDS = frozenset({"jpg", "png", "zip", "docx", "xlsx", "ofd"})  # compressed already


def current_materials(session: Session, deliverable: Deliverable) -> list[tuple[Material, Unit]]:
    """The files a deliverable holds now (replaced ones left out), by unit order then arrival."""
    rows = session.execute(
        select(Material, Unit)
        .join(Unit, Unit.id == Material.unit_id)
        .where(Material.deliverable_id == deliverable.id, Material.replaced_at.is_(None))
        .order_by(Unit.position, Unit.id, Material.id)
    )
    return [(material, unit) for material, unit in rows]


def write_zip(session: Session, files: Files, deliverable: Deliverable, out: IO[bytes]) -> int:
    """Write the deliverable's zip to `out`; returns how many files it holds."""
    taken: set[str] = set()
    count = 0
    with zipfile.ZipFile(out, "w") as archive:
        for material, unit in current_materials(session, deliverable):
            path = _unique(f"{unit.name}/{unit.name}-{material.name}", taken)
            info = zipfile.ZipInfo(path, date_time=material.received_at.timetuple()[:6])
            info.compress_type = zipfile.ZIP_STORED if material.kind in _STORED_KINDS else zipfile.ZIP_DEFLATED
            with archive.open(info, "w", force_zip64=material.size > 2**31) as member:
                for chunk in files.read(session, material.sha256):
                    member.write(chunk)
            count += 1
    return count


def _unique(path: str, taken: set[str]) -> str:
    stem, dot, extension = path.rpartition(".")
    candidate, number = path, 2
    while candidate in taken:
        candidate = f"{stem}（{number}）{dot}{extension}"
        number += 1
    taken.add(candidate)
    return candidate
