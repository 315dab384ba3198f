"""The simulator page in Chromium: its outbox names people by name and unit, not by their raw user ids."""

from __future__ import annotations

import httpx
from playwright.sync_api import Browser, expect

from tests.bot.test_dashboard_browser import browser, live_url  # noqa: F401  (the fixtures)


def test_the_outbox_shows_names_and_units(live_url: str, browser: Browser) -> None:  # noqa: F811
    register = "登记\n单位：法制科\n姓名：张伟\n职务：科员\n电话：13900000001"
    reply = httpx.post(f"{live_url}/sim/api/messages", json={"user": "newbie", "text": register})
    assert "已提交登记" in reply.json()["replies"][0]
    page = browser.new_page(locale="zh-CN")
    page.goto(f"{live_url}/sim")
    outbox = page.get_by_test_id("sim-outbox")
    expect(outbox).to_contain_text("发给：俞建奎（牵头部门 · 协调人）")  # the registration waiting for approval
    expect(outbox).not_to_contain_text("发给：YuJianKui")
    page.close()
