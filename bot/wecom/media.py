"""Pictures and files sent to the self-built app: MsgType image or file with a MediaId, fetched from media/get
with the app's cached access token after the callback has been acknowledged (WeCom waits 5 seconds at most)."""

from __future__ import annotations

import json

import httpx
from wechatpy.messages import BaseMessage

from bot.media import DownloadFailed, stage_response
from bot.wecom.client import TOKEN_ERRCODES, WeComApi
from bot.wecom.crypto import CallbackRejected
from handlers.message import Attachment

MEDIA_GET = "/cgi-bin/media/get"
MEDIA_TYPES = frozenset({"image", "file"})
# errcodes after which another try cannot help: an invalid or expired media_id.
FINAL_ERRCODES = frozenset({40007, 42004})


def check(message: BaseMessage) -> None:
    """A picture or file message must name its media and carry a numeric MsgId, as WeCom's always do."""
    fields = message._data  # wechatpy models no file message
    if not fields.get("MediaId"):
        raise CallbackRejected(400, "媒体消息缺少 MediaId")
    if not str(fields.get("MsgId") or "").isdigit():
        raise CallbackRejected(400, "媒体消息缺少 MsgId")
    if len(str(fields["MediaId"])) > 512:
        raise CallbackRejected(400, "MediaId 过长")


async def fetch(api: WeComApi, media_id: str, name: str) -> Attachment:
    """One try at media/get; a refused token is replaced once. DownloadFailed says why a try failed."""
    token = await api.access_token()
    for attempt in (1, 2):
        url = api.credentials.api_base + MEDIA_GET
        try:
            async with api.http.stream("GET", url, params={"access_token": token, "media_id": media_id}) as response:
                if response.status_code != 200:
                    raise DownloadFailed(f"HTTP {response.status_code}")
                if not response.headers.get("content-type", "").startswith(("application/json", "text/plain")):
                    return await stage_response(response, name)
                body = (await response.aread())[:4096]
        except httpx.HTTPError as error:
            raise DownloadFailed(type(error).__name__) from error
        code = _errcode(body)
        if code in TOKEN_ERRCODES and attempt == 1:
            token = await api.access_token(refused=token)
            continue
        raise DownloadFailed(f"errcode {code}", final=code in FINAL_ERRCODES)
    raise DownloadFailed("access token refused twice")


def _errcode(body: bytes) -> int | None:
    try:
        value = json.loads(body).get("errcode")
    except (ValueError, AttributeError):
        return None
    return value if isinstance(value, int) else None
