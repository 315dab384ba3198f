"""Materials in the dashboard: per deliverable who sent which file when, each downloadable, and one zip of all;
per issue its evidence with thumbnails of the pictures.

Downloads are always attachments with the MIME type of the kind read from the content (never text/html) and
`nosniff`, so a file can never run as a page of this site; only pictures are shown inline, as thumbnails.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote
from zoneinfo import ZoneInfo

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, StreamingResponse
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.background import BackgroundTask
from starlette.responses import FileResponse, Response

from bot.dashboard.auth import PageViewer, ServicesDep, UnitViewer, Viewer
from bot.dashboard.pages import _campaign, _seen_by, render
from bot.services import Services
from core.statuses import DeliverableKind
from handlers.materials import files_by_unit
from storage.db import transaction
from storage.files import IMAGE_KINDS, MIME_TYPES, Files
from storage.material_zip import current_materials, write_zip
from storage.models import Campaign, Deliverable, Issue, Material, Unit
from storage.repos import Deliverables, Units, fits_integer

router = APIRouter(prefix="/dashboard", include_in_schema=False)


def _disposition(how: str, name: str, fallback: str) -> str:
    """`fallback` (ASCII) for old clients, the real name as RFC 5987 filename*."""
    return f"{how}; filename=\"{fallback}\"; filename*=UTF-8''{quote(name)}"


def _deliverable(session: Session, campaign: Campaign, deliverable_id: int) -> Deliverable:
    found = session.get(Deliverable, deliverable_id) if fits_integer(deliverable_id) else None
    if found is None or found.campaign_id != campaign.id:
        raise HTTPException(404, "没有这个报送事项。")
    return found


@router.get("/materials", response_class=HTMLResponse)
def materials_page(request: Request, viewer: PageViewer, services: ServicesDep) -> Response:
    with transaction(services.sessions) as session:
        campaign = _campaign(session, viewer)
        units = [u for u in Units(session).all(campaign) if not u.retired]
        rows = []
        for deliverable in Deliverables(session).all(campaign):
            if deliverable.kind is DeliverableKind.CONTACTS:
                continue
            owing = [u for u in units if Deliverables.owes(deliverable, u)]
            counts = files_by_unit(session, deliverable)
            rows.append((deliverable, len(owing), sum(1 for u in owing if counts.get(u.id)), sum(counts.values())))
        return render(request, "materials.html", {"campaign": campaign, "rows": rows}, viewer=viewer)


@router.get("/materials/{deliverable_id}", response_class=HTMLResponse)
def material_page(request: Request, deliverable_id: int, viewer: PageViewer, services: ServicesDep) -> Response:
    with transaction(services.sessions) as session:
        campaign = _campaign(session, viewer)
        deliverable = _deliverable(session, campaign, deliverable_id)
        by_unit: dict[int, list[Material]] = {}
        for material, unit in current_materials(session, deliverable):
            by_unit.setdefault(unit.id, []).append(material)
        units = [u for u in Units(session).all(campaign) if not u.retired and Deliverables.owes(deliverable, u)]
        return render(
            request,
            "material.html",
            {
                "campaign": campaign,
                "deliverable": deliverable,
                "units": units,
                "by_unit": by_unit,
                "zone": ZoneInfo(campaign.timezone),
                "total": sum(len(v) for v in by_unit.values()),
            },
            viewer=viewer,
        )


@router.get("/materials/{deliverable_id}/zip")
def material_zip(deliverable_id: int, viewer: PageViewer, services: ServicesDep) -> Response:
    files: Files = services.dispatcher.files
    handle = tempfile.NamedTemporaryFile(prefix="duban-zip-", suffix=".zip", delete=False)  # noqa: SIM115
    path = Path(handle.name)
    try:
        with transaction(services.sessions) as session, handle:
            deliverable = _deliverable(session, _campaign(session, viewer), deliverable_id)
            write_zip(session, files, deliverable, handle)
            name = f"{deliverable.name}.zip"
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return FileResponse(
        path,
        media_type="application/zip",
        headers={"content-disposition": _disposition("attachment", name, "materials.zip")},
        background=BackgroundTask(path.unlink, missing_ok=True),
    )


def _material(session: Session, campaign: Campaign, material_id: int, viewer: Viewer) -> Material:
    found = session.get(Material, material_id) if fits_integer(material_id) else None
    if found is None or found.campaign_id != campaign.id or found.target is None:
        raise HTTPException(404, "没有这个文件。")
    _seen_by(viewer, found.unit_id)
    return found


def _stream(services: Services, material_id: int, viewer: Viewer, *, inline: bool) -> Response:
    files: Files = services.dispatcher.files
    with transaction(services.sessions) as session:
        material = _material(session, _campaign(session, viewer), material_id, viewer)
        kind, name, sha256 = material.kind, material.name, material.sha256
    if inline and kind not in IMAGE_KINDS:
        raise HTTPException(404, "只有图片有缩略图。")

    def chunks() -> Iterator[bytes]:
        with transaction(services.sessions) as session:
            yield from files.read(session, sha256)

    return StreamingResponse(
        chunks(),
        media_type=MIME_TYPES[kind],
        headers={
            "content-disposition": _disposition("inline" if inline else "attachment", name, f"file.{kind}"),
            "x-content-type-options": "nosniff",
        },
    )


@router.get("/files/{material_id}")
def download(material_id: int, viewer: UnitViewer, services: ServicesDep) -> Response:
    return _stream(services, material_id, viewer, inline=False)


@router.get("/files/{material_id}/picture")
def picture(material_id: int, viewer: UnitViewer, services: ServicesDep) -> Response:
    return _stream(services, material_id, viewer, inline=True)


@router.get("/issues/{number}/evidence", response_class=HTMLResponse)
def evidence_page(request: Request, number: int, viewer: UnitViewer, services: ServicesDep) -> Response:
    with transaction(services.sessions) as session:
        campaign = _campaign(session, viewer)
        issue = (
            session.scalars(select(Issue).where(Issue.campaign_id == campaign.id, Issue.number == number)).first()
            if fits_integer(number)
            else None
        )
        if issue is None:
            raise HTTPException(404, f"没有编号为 #{number} 的问题。")
        _seen_by(viewer, issue.unit_id)
        evidence = session.scalars(
            select(Material).where(Material.issue_id == issue.id, Material.replaced_at.is_(None)).order_by(Material.id)
        ).all()
        unit = session.get(Unit, issue.unit_id)
        return render(
            request,
            "evidence.html",
            {
                "campaign": campaign,
                "issue": issue,
                "unit": unit,
                "evidence": evidence,
                "images": IMAGE_KINDS,
                "zone": ZoneInfo(campaign.timezone),
            },
            viewer=viewer,
        )
