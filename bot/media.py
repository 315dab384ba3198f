"""Downloading a file a user sent, for every channel: streamed into the staging area, retried with back-off.

A platform keeps the file (WeCom's media_id, DingTalk's downloadCode) and the bot fetches it after the callback
is acknowledged. The bytes go straight from the response into a staging file (storage.files.Staging), so
memory stays flat however large the file; past the size limit the download stops. A download that fails at the
platform (a 5xx, a busy errcode, a timeout) is tried again after each of `pauses`; if it still fails, the
handler is told (`problem="download_failed"`) and says so to the user.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable, Sequence
from urllib.parse import unquote

import httpx

from handlers.message import Attachment
from storage.files import CHUNK_BYTES, Staging, TooLarge

log = logging.getLogger("duban.media")

RETRY_PAUSES = (1.0, 4.0, 15.0)  # seconds between tries of a failed download
_FILENAME_STAR = re.compile(r"filename\*=(?:UTF-8|utf-8)''([^;\s]+)")
_FILENAME = re.compile(r'filename="?([^";]+)"?', re.IGNORECASE)


class DownloadFailed(Exception):
    """This try failed; another may succeed (`final`: none will, e.g. an expired media id)."""

    def __init__(self, reason: str, *, final: bool = False) -> None:
        super().__init__(reason)
        self.final = final


def filename_of(disposition: str) -> str | None:
    """The file name in a Content-Disposition header (RFC 5987 `filename*` first)."""
    if match := _FILENAME_STAR.search(disposition):
        return unquote(match.group(1))
    if match := _FILENAME.search(disposition):
        return unquote(match.group(1).strip())
    return None


async def stage_response(response: httpx.Response, name: str) -> Attachment:
    """Stream a 200 response's body into the staging area."""
    name = filename_of(response.headers.get("content-disposition", "")) or name
    staging = Staging(name=name)
    try:
        async for chunk in response.aiter_bytes(CHUNK_BYTES):
            # Hashing and writing in a worker thread (both let go of the GIL): the event loop keeps answering
            # text callbacks while 20 MB arrive.
            await asyncio.to_thread(staging.write, chunk)
    except TooLarge:
        return Attachment(name=name, problem="too_large")
    except httpx.HTTPError as error:
        staging.abort()
        raise DownloadFailed(f"下载中断：{type(error).__name__}") from error
    return Attachment(name=name, staged=staging.finish())


async def download(
    fetch: Callable[[], Awaitable[Attachment]], *, name: str, platform: str, pauses: Sequence[float] = RETRY_PAUSES
) -> Attachment:
    """`fetch` once, and again after each pause while it fails; a failed Attachment when it never succeeds."""
    for pause in (*pauses, None):
        try:
            return await fetch()
        except DownloadFailed as failure:
            log.warning(
                "media download failed",
                extra={"platform": platform, "reason": str(failure), "final": failure.final or pause is None},
            )
            if failure.final or pause is None:
                break
            await asyncio.sleep(pause)
    return Attachment(name=name, problem="download_failed")
