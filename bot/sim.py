"""The simulator channel: talk to the bot as any user from a local web page (docs/architecture.md).

Simulator users are identified exactly as WeCom userids are (the `wecom` identity namespace), so a
liaison set up in the simulator is the same person once the WeCom app is connected. Its messages are the
simulator's own, though (`via="sim"`): their ids never meet WeCom's in the duplicate check, and the audit trail
records them as `sim:<user>`. Beside a configured platform, where every user it can speak as is a real person,
only a coordinator logged in to the dashboard may use it.
"""

from __future__ import annotations

import uuid
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Form, HTTPException, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, Response
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from bot.dashboard.auth import LoginRequired, current_viewer
from bot.observability import timed
from bot.services import Services
from core.channels import Channel, Platform
from core.roles import Role
from handlers.context import campaign_label
from handlers.message import Attachment, IncomingMessage
from storage.db import transaction
from storage.files import CHUNK_BYTES, Staging, TooLarge
from storage.models import Campaign
from storage.repos import Campaigns, Outbox, People

SIM_PAGE = Path(__file__).with_name("static") / "sim.html"
SIM_PLATFORM = Platform.WECOM
SIM_CHANNEL = Channel.SIM
DEMO_STRANGERS = ("stranger1", "LiuYang")
KEPT_IMAGES = 64


def services(request: Request) -> Services:
    return request.app.state.services


def allowed(request: Request) -> None:
    """Beside a configured platform, only a coordinator logged in to the dashboard may use the simulator."""
    if not services(request).settings.simulator_needs_login:
        return
    viewer = current_viewer(request)
    if viewer is not None and viewer.is_coordinator:
        return
    if request.url.path == "/sim":
        raise LoginRequired("/sim")
    raise HTTPException(
        401,
        "模拟器可以冒充任何用户，本服务已接入企业微信或钉钉，请先以牵头部门协调人身份登录督办网页"
        "（/dashboard/login）。",
    )


router = APIRouter(tags=["simulator"], dependencies=[Depends(allowed)])
ServicesDep = Annotated[Services, Depends(services)]


class SimMessage(BaseModel):
    user: str = Field(min_length=1, max_length=128, pattern=r"^[^\s]+$", description="the sender's user id")
    text: str = Field(max_length=10_000)
    msgid: str | None = Field(default=None, max_length=128, description="optional id, to try retried deliveries")


class SimReplies(BaseModel):
    replies: list[str]
    images: list[str] = Field(default_factory=list, description="URLs of pictures sent with the replies (charts)")


class ImageShelf:
    """The last few pictures the bot sent in the simulator, by id (a platform would hold them as media)."""

    def __init__(self, size: int = KEPT_IMAGES) -> None:
        self.size = size
        self.items: OrderedDict[str, tuple[str, bytes]] = OrderedDict()

    def put(self, mime: str, data: bytes) -> str:
        key = uuid.uuid4().hex
        self.items[key] = (mime, data)
        while len(self.items) > self.size:
            self.items.popitem(last=False)
        return key


def shelf(request: Request) -> ImageShelf:
    state = request.app.state
    if not hasattr(state, "sim_images"):
        state.sim_images = ImageShelf()
    return state.sim_images


ShelfDep = Annotated[ImageShelf, Depends(shelf)]


class SimOutboxItem(BaseModel):
    to: str
    label: str = Field(description="`to` as a person reads it: 马强（执法监察支队 · 联络员）, or a group's name")
    text: str
    at: str


class SimUser(BaseModel):
    id: str
    label: str
    role: str


class SimUsers(BaseModel):
    users: list[SimUser]


@router.get("/sim", include_in_schema=False)
def sim_page() -> FileResponse:
    return FileResponse(SIM_PAGE, media_type="text/html; charset=utf-8")


@router.post("/sim/api/messages", response_model=SimReplies)
def post_message(body: SimMessage, services: ServicesDep, images: ShelfDep) -> SimReplies:
    message = IncomingMessage(
        platform=SIM_PLATFORM,
        user_id=body.user,
        text=body.text,
        received_at=services.clock.now(),
        message_id=body.msgid,
        via=SIM_CHANNEL,
    )
    reply = timed("sim", services.dispatcher.handle)(message)
    urls = [f"/sim/api/images/{images.put(image.mime, image.data)}" for image in reply.images]
    return SimReplies(replies=list(reply.texts), images=urls)


@router.post("/sim/api/files", response_model=SimReplies)
async def post_file(
    services: ServicesDep,
    user: Annotated[str, Form(min_length=1, max_length=128, pattern=r"^[^\s]+$")],
    file: UploadFile,
    text: Annotated[str, Form(max_length=2000)] = "",
    msgid: Annotated[str | None, Form(max_length=128)] = None,
) -> SimReplies:
    """A file or picture from `user`, with an optional caption (`text`): answered like /sim/api/messages."""
    attachment = await stage_upload(file)
    message = IncomingMessage(
        platform=SIM_PLATFORM,
        user_id=user,
        text=text,
        received_at=services.clock.now(),
        message_id=msgid,
        via=SIM_CHANNEL,
        attachment=attachment,
    )
    try:
        reply = await run_in_threadpool(timed("sim", services.dispatcher.handle), message)
    finally:
        if attachment.staged is not None:
            attachment.staged.discard()
    return SimReplies(replies=list(reply.texts))


async def stage_upload(file: UploadFile) -> Attachment:
    """Copy an upload (spooled by the multipart parser) into the staging area a chunk at a time."""
    name = file.filename or ""
    staging = Staging(name=name)
    try:
        while chunk := await file.read(CHUNK_BYTES):
            staging.write(chunk)
    except TooLarge:
        return Attachment(name=name, problem="too_large")
    return Attachment(name=name, staged=staging.finish())


@router.get("/sim/api/images/{key}", response_class=Response)
def image(key: str, images: ShelfDep) -> Response:
    found = images.items.get(key)
    if found is None:
        raise HTTPException(404, "图片已过期（模拟器只保留最近的图片）")
    mime, data = found
    return Response(data, media_type=mime)


@router.get("/sim/api/outbox", response_model=list[SimOutboxItem])
def outbox(services: ServicesDep) -> list[SimOutboxItem]:
    with transaction(services.sessions) as session:
        serving = Campaigns(session).serving(services.settings.campaign)
        zone = ZoneInfo(serving[0].timezone if serving else "Asia/Shanghai")
        labels = {user.id: user.label for user in _known_users(session, serving)}
        return [
            SimOutboxItem(
                to=m.target,
                label=labels.get(m.target, m.target),
                text=m.text,
                at=(m.sent_at or m.not_before).astimezone(zone).isoformat(),
            )
            for m in Outbox(session).for_channel(SIM_CHANNEL)
        ]


def _known_users(session: Session, serving: Sequence[Campaign]) -> list[SimUser]:
    """The simulator's identities in every campaign served, with their names, units and roles: someone in several
    campaigns is one user, labelled with each (【三年行动】自然资源局 · 联络员)."""
    found: dict[str, tuple[str, list[str], Role]] = {}  # user id → name, what they are in each campaign, first role
    people = People(session)
    for campaign in serving:
        for identity in people.identities(campaign):
            if identity.platform != SIM_PLATFORM:
                continue
            actor = people.actor(campaign, identity.platform, identity.external_id)
            if actor.coordinator is not None:
                name, part = actor.coordinator.name, "牵头部门 · 协调人"
            elif actor.contact is not None:
                state = {Role.LIAISON: "联络员", Role.PENDING: "待审核"}.get(actor.role, "已驳回")
                name, part = actor.contact.name, f"{actor.contact.unit.name} · {state}"
            else:
                continue
            if len(serving) > 1:
                part = f"【{campaign_label(campaign)}】{part}"
            parts = found.setdefault(identity.external_id, (name, [], actor.role))[1]
            parts.append(part)
    return [
        SimUser(id=user, label=f"{name}（{'；'.join(parts)}）", role=role)
        for user, (name, parts, role) in found.items()
    ]


@router.get("/sim/api/users", response_model=SimUsers)
def users(services: ServicesDep) -> SimUsers:
    """Everyone the simulator can speak as: known identities (of every campaign served) plus a few strangers to
    register with."""
    with transaction(services.sessions) as session:
        found = _known_users(session, Campaigns(session).serving(services.settings.campaign))
    known = {u.id for u in found}
    found.extend(SimUser(id=s, label=f"未登记用户 {s}", role=Role.STRANGER) for s in DEMO_STRANGERS if s not in known)
    return SimUsers(users=found)
