"""The simulator page in Chromium: its outbox names people by name and unit, not by their raw user ids."""

from __future__ import annotations

from pathlib import Path

import httpx
from playwright.sync_api import Browser, expect

from tests.bot.test_dashboard_browser import browser, live_url  # noqa: F401  (the fixtures)
from tests.materials import JPG


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


def test_a_file_is_sent_with_the_upload_button(live_url: str, browser: Browser, tmp_path: Path) -> None:  # noqa: F811
    photo = tmp_path / "整改后照片.jpg"
    photo.write_bytes(JPG)
    page = browser.new_page(locale="zh-CN")
    page.goto(f"{live_url}/sim")
    page.locator("#custom-user-input").fill("MaQiang")
    page.locator("#custom-user-form button").click()
    page.get_by_test_id("sim-input").fill("周报")  # the caption: this week's report's attachment
    page.get_by_test_id("sim-file").set_input_files(str(photo))
    messages = page.locator("#message-list")
    expect(messages).to_contain_text("已收到文件「整改后照片.jpg」")
    expect(messages).to_contain_text("周报的附件")
    page.close()
