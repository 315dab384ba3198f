"""Adopting from Excel in the dashboard: upload 附件1 or 附件2, read the dry run line by line, then confirm.

The same steps as `duban import contacts|issues`. Nothing is kept on the server between the two steps (a
campaign runs several web processes): the confirm form carries the file back, and confirming reads it again
and writes in one transaction, so what is written is what the dry run said unless the ledger moved since.
"""

from __future__ import annotations

import base64
import binascii
import io
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, File, Form, HTTPException, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy.orm import Session
from starlette.responses import Response

from bot.dashboard.auth import PageViewer, ServicesDep, check_csrf
from bot.dashboard.pages import _campaign, _now, _unit, render
from bot.services import Services
from exports.adopt import ImportPlan, Outcome, apply, plan_contacts, plan_issues
from exports.table_reader import WorkbookError
from storage.db import transaction
from storage.models import Campaign
from storage.repos import Units

router = APIRouter(prefix="/dashboard", include_in_schema=False)
KINDS = {"contacts": "附件1 联系人", "issues": "附件2 问题清单"}
NOUNS = {"contacts": "位联系人", "issues": "个问题"}
FORM_OVERHEAD = 4096  # bytes of the confirm form besides the file


def _plan(session: Session, services: Services, campaign: Campaign, kind: str, unit: str, data: bytes) -> ImportPlan:
    if kind not in KINDS:
        raise HTTPException(400, "请选择要导入的表格。")
    chosen = _unit(session, campaign, int(unit)) if unit.isdigit() else None
    source = io.BytesIO(data)
    if kind == "contacts":
        return plan_contacts(session, campaign, source, unit=chosen)
    return plan_issues(session, campaign, source, today=_now(services, campaign).date(), unit=chosen)


def _page(
    request: Request, services: ServicesDep, viewer: PageViewer, status_code: int = 200, **context: object
) -> Response:
    with transaction(services.sessions) as session:
        campaign = _campaign(session, viewer)
        units = Units(session).all(campaign)
    return render(
        request,
        "import.html",
        {"campaign": campaign, "kinds": KINDS, "units": units, **context},
        viewer=viewer,
        status_code=status_code,
    )


@router.get("/import", response_class=HTMLResponse)
def import_page(request: Request, viewer: PageViewer, services: ServicesDep, done: str | None = None) -> Response:
    return _page(request, services, viewer, done=done)


@router.post("/import/preview", response_class=HTMLResponse)
async def import_preview(
    request: Request,
    viewer: PageViewer,
    services: ServicesDep,
    csrf: Annotated[str, Form()] = "",
    kind: Annotated[str, Form(max_length=16)] = "",
    unit: Annotated[str, Form(max_length=12)] = "",
    table: Annotated[UploadFile | None, File()] = None,
) -> Response:
    """The dry run: what each line of the uploaded table would do; nothing is written."""
    check_csrf(request, csrf)
    data = await table.read() if table is not None and table.filename else b""
    name = table.filename if table is not None and table.filename else ""
    if not data:
        return _page(request, services, viewer, 400, problem="请选择要上传的 Excel 文件。", kind=kind)
    if len(data) * 4 // 3 + FORM_OVERHEAD > services.settings.max_body_bytes:
        return _page(
            request,
            services,
            viewer,
            400,
            kind=kind,
            problem="文件太大，无法在网页上确认导入；请用命令行 duban import 导入。",
        )
    try:
        with transaction(services.sessions) as session:
            plan = _plan(session, services, _campaign(session, viewer), kind, unit, data)
    except WorkbookError as error:
        return _page(request, services, viewer, 400, problem=f"{name}：{error}", kind=kind)
    return _page(
        request,
        services,
        viewer,
        plan=plan,
        kind=kind,
        unit=unit,
        name=name,
        creates=len(plan.writes),
        noun=NOUNS[kind],
        data=base64.urlsafe_b64encode(data).decode(),
        Outcome=Outcome,
    )


@router.post("/import/apply")
def import_apply(
    request: Request,
    viewer: PageViewer,
    services: ServicesDep,
    csrf: Annotated[str, Form()] = "",
    kind: Annotated[str, Form(max_length=16)] = "",
    unit: Annotated[str, Form(max_length=12)] = "",
    name: Annotated[str, Form(max_length=255)] = "",
    data: Annotated[str, Form()] = "",
) -> Response:
    """Write the 新建 lines of the table the dry run showed."""
    check_csrf(request, csrf)
    try:
        table = base64.urlsafe_b64decode(data.encode())
    except (binascii.Error, ValueError) as error:
        raise HTTPException(400, "导入的文件已损坏，请重新上传。") from error
    with transaction(services.sessions) as session:
        campaign = _campaign(session, viewer)
        try:
            plan = _plan(session, services, campaign, kind, unit, table)
        except WorkbookError as error:
            raise HTTPException(400, str(error)) from error
        written = apply(session, campaign, plan, now=services.clock.now(), actor=viewer.actor, file_name=name)
    done = (
        f"已从「{name}」导入 {written} {NOUNS[kind]}（{plan.summary}）。"
        if written
        else f"「{name}」中没有需要写入的内容（{plan.summary}）。"
    )
    return RedirectResponse(viewer.url(f"/dashboard/import?done={quote(done)}"), status_code=303)
