"""The simulator shows the pictures the bot sends (the 汇总 / 图表 chart) as URLs the app serves."""

from __future__ import annotations

from fastapi.testclient import TestClient


def test_chart_reply_carries_an_image_url_the_app_serves(client: TestClient) -> None:
    body = client.post("/sim/api/messages", json={"user": "YuJianKui", "text": "图表"}).json()
    assert "各单位整改率与目标对比" in body["replies"][0]
    (url,) = body["images"]
    image = client.get(url)
    assert image.status_code == 200 and image.headers["content-type"] == "image/png"
    assert image.content.startswith(b"\x89PNG")


def test_text_only_replies_have_no_images_and_unknown_images_are_404(client: TestClient) -> None:
    body = client.post("/sim/api/messages", json={"user": "MaQiang", "text": "帮助"}).json()
    assert body["images"] == []
    missing = client.get("/sim/api/images/0123456789abcdef")
    assert missing.status_code == 404 and "已过期" in missing.json()["detail"]
