"""The dashboard's 通知 page: every notice with its receipts counted by unit, and a page per notice listing every
unit it went to (the browser test walks the same pages in Chromium)."""

from __future__ import annotations

from fastapi.testclient import TestClient

from core.clock import ManualClock
from tests.bot.test_dashboard_api import signed_in  # noqa: F401  (the fixture)
from tests.bot.test_dashboard_desk import words
from tests.conftest import SimChat, at


def test_notices_are_listed_with_receipts_by_unit(signed_in: TestClient, clock: ManualClock) -> None:  # noqa: F811
    assert "还没有发过通知。" in words(signed_in.get("/dashboard/notices").text)
    assert "没有编号为 1 的通知" in signed_in.get("/dashboard/notices/1").text
    assert signed_in.get("/dashboard/notices/1").status_code == 404
    assert signed_in.get(f"/dashboard/notices/{2**40}").status_code == 404

    chat = SimChat(signed_in)
    chat.send("YuJianKui", "通知 请各单位于7月24日前报送典型案例1至2个。")
    clock.set(at("2020-07-15 10:20"))
    chat.send("WangFang", "收到")
    chat.send("YuJianKui", "通知 未报送 周报 请于周五12:00前报送本周工作信息")

    listing = words(signed_in.get("/dashboard/notices").text)
    assert (
        "〔2〕 07-15 10:20 未报送第29周周报的单位 请于周五12:00前报送本周工作信息 0/1 个单位已确认 1 个单位未送达"
        in listing
    )
    assert (
        "〔1〕 07-15 10:00 全部单位 请各单位于7月24日前报送典型案例1至2个。 1/2 个单位已确认 2 个单位未送达" in listing
    )
    assert listing.index("〔2〕") < listing.index("〔1〕")  # newest first
    page = words(signed_in.get("/dashboard/notices/1").text)
    assert "1/2 个单位已确认收到，2 个单位没有联络员、未送达。" in page
    assert "办公室 王芳 已确认（王芳 07-15 10:20） 执法监察支队 马强 未确认 法制科 尚无联络员 未送达" in page
