"""Notices in the dashboard: every 通知 a coordinator sent, and unit by unit who has answered 收到.

The same receipts `回执` shows in chat (handlers.broadcast), with every unit listed; notices are sent from chat.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse
from starlette.responses import Response

from bot.dashboard.auth import PageViewer, ServicesDep
from bot.dashboard.pages import _campaign, _now, render
from handlers.broadcast import by_unit
from storage.db import transaction
from storage.repos import Notices, fits_integer

router = APIRouter(prefix="/dashboard", include_in_schema=False)


@router.get("/notices", response_class=HTMLResponse)
def notices_page(request: Request, viewer: PageViewer, services: ServicesDep) -> Response:
    with transaction(services.sessions) as session:
        campaign = _campaign(session, viewer)
        return render(
            request,
            "notices.html",
            {"campaign": campaign, "notices": Notices(session).listing(campaign), "zone": ZoneInfo(campaign.timezone)},
            viewer=viewer,
        )


@router.get("/notices/{number}", response_class=HTMLResponse)
def notice_page(request: Request, number: int, viewer: PageViewer, services: ServicesDep) -> Response:
    with transaction(services.sessions) as session:
        campaign = _campaign(session, viewer)
        notice = Notices(session).by_number(campaign, number) if fits_integer(number) else None
        if notice is None:
            raise HTTPException(404, f"没有编号为 {number} 的通知。")
        units = by_unit(notice)
        return render(
            request,
            "notice.html",
            {
                "campaign": campaign,
                "notice": notice,
                "units": units,
                "zone": ZoneInfo(campaign.timezone),
                "acknowledged": sum(1 for u in units if u.first is not None),
                "now": _now(services, campaign),
            },
            viewer=viewer,
        )
