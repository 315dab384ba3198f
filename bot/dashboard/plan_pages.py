"""Plans from the dashboard: upload an official notice (.docx, .pdf, .ofd or text), check the YAML plan it
gives, then load it.

The same steps as `duban plan import` and `duban plan load`; nothing is written until the coordinator
presses 加载, and 校验 runs the whole load inside a transaction that is rolled back, so the page can say
exactly what would change. A plan under a new campaign name makes a new campaign beside the others (it replaces
none); one under the name of an existing campaign updates it, and only that campaign's coordinators may.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse
from starlette.responses import Response

from bot.dashboard.auth import PageViewer, ServicesDep, Viewer, campaign_url, check_csrf, current_viewer
from bot.dashboard.pages import render
from notice import Document, DocumentError, import_document, read_document
from notice.writer import render_plan
from plan.schema import PlanError, parse_plan
from plan.sync import LoadResult, load_plan
from storage.repos import Campaigns

router = APIRouter(prefix="/dashboard", include_in_schema=False)
MAX_PLAN_CHARS = 500_000  # a plan of 5,000 units is ~400 kB of YAML; the body limit stops anything larger


@router.get("/plan", response_class=HTMLResponse)
def plan_page(request: Request, viewer: PageViewer) -> Response:
    return render(request, "plan.html", {"step": "upload"}, viewer=viewer)


@router.post("/plan/import", response_class=HTMLResponse)
async def plan_import(
    request: Request,
    viewer: PageViewer,
    csrf: Annotated[str, Form()] = "",
    notice: Annotated[UploadFile | None, File()] = None,
    text: Annotated[str, Form(max_length=MAX_PLAN_CHARS)] = "",
    year: Annotated[str, Form(max_length=4)] = "",
) -> Response:
    check_csrf(request, csrf)
    data = await notice.read() if notice is not None and notice.filename else b""
    problems: list[str] = []
    if not data.strip() and not text.strip():
        problems.append("请上传通知文件（.docx、.pdf、.ofd 或 .txt）或把通知全文粘贴到文本框中。")
    if year.strip() and not (year.strip().isdigit() and 2000 <= int(year) <= 2100):
        problems.append(f"年份「{year}」无法识别，请填写四位数字，如 2024。")
    document: Document | None = None
    try:
        document = read_document(data) if data.strip() else Document(text, None, "txt") if text.strip() else None
    except DocumentError as error:
        problems.append(str(error))
    if problems or document is None:
        return render(
            request, "plan.html", {"step": "upload", "problems": problems, "text": text}, viewer=viewer, status_code=400
        )
    plan = import_document(document, year=int(year) if year.strip() else None)
    source = notice.filename if notice is not None and notice.filename else "粘贴的通知"
    summary = (
        f"已识别：{len(plan.phases)} 个阶段、{len(plan.deliverables)} 个报送事项、{len(plan.tasks)} 项任务、"
        f"{len(plan.units)} 个单位。请逐项核对，补全标有 TODO 的内容，再校验、加载。"
        + "".join(f" 注意：{item.value}" for item in plan.shortfalls)
    )
    return render(
        request,
        "plan.html",
        {"step": "check", "yaml": render_plan(plan, source=source), "summary": summary},
        viewer=viewer,
    )


@router.post("/plan/load", response_class=HTMLResponse)
def plan_load(
    request: Request,
    viewer: PageViewer,
    services: ServicesDep,
    csrf: Annotated[str, Form()] = "",
    plan: Annotated[str, Form(max_length=MAX_PLAN_CHARS)] = "",
    action: Annotated[str, Form(max_length=10)] = "check",
) -> Response:
    check_csrf(request, csrf)
    try:
        resolved = parse_plan(plan, "方案")
    except PlanError as error:
        return _refused(request, plan, error, viewer)
    session = services.sessions()
    try:
        existing = Campaigns(session).current(resolved.plan.campaign.name)
        if existing is not None and not _coordinates(viewer, existing.id):
            return render(
                request,
                "plan.html",
                {
                    "step": "check",
                    "yaml": plan,
                    "problems": [
                        f"专项整治「{existing.name}」已经存在，您不是它的协调人，不能修改它的方案。"
                        "要新建一个专项整治，请在 campaign.name 中换一个名称。"
                    ],
                },
                viewer=viewer,
                status_code=403,
            )
        others = [c.name for c in Campaigns(session).serving(services.settings.campaign)]
        try:
            result: LoadResult = load_plan(session, resolved, now=services.clock.now(), actor=viewer.actor)
        except PlanError as error:
            session.rollback()
            return _refused(request, plan, error, viewer)
        outcome = {
            "name": result.campaign.name,
            "created": result.created,
            "changes": result.changes,
            "warnings": result.warnings,
            "others": others if result.created else [],
        }
        if action == "load":
            session.commit()
        else:
            session.rollback()
        created_id = result.campaign.id if action == "load" and result.created else None
    finally:
        session.close()
    if created_id is not None:
        # Whether the person who loaded it can open it now: the plan names their WeCom or DingTalk account among its
        # coordinators, or it reports up to a campaign of theirs (a password login belongs to one campaign).
        now_seen = current_viewer(request)
        opens = now_seen is not None and any(s.campaign_id == created_id for s in now_seen.campaigns)
        outcome["link"] = campaign_url("/dashboard", created_id) if opens else None
    return render(
        request,
        "plan.html",
        {"step": "loaded" if action == "load" else "check", "yaml": plan, "outcome": outcome},
        viewer=viewer,
    )


def _refused(request: Request, plan: str, error: PlanError, viewer: Viewer) -> Response:
    """The plan shown again with what is wrong in it, nothing loaded."""
    return render(
        request,
        "plan.html",
        {"step": "check", "yaml": plan, "problems": error.render().splitlines()},
        viewer=viewer,
        status_code=400,
    )


def _coordinates(viewer: Viewer, campaign_id: int) -> bool:
    """Whether the viewer coordinates this campaign (a parent campaign's coordinator only looks at it)."""
    return any(
        s.campaign_id == campaign_id and s.coordinator_id is not None and not s.read_only for s in viewer.campaigns
    )
