"""Pictures and files sent to the robot: a `downloadCode` in the message, exchanged for a short-lived URL at the
new-style API (robot/messageFiles/download, DUBAN_DINGTALK_STREAM_API_BASE) with the app's access token, then
downloaded from that URL into the staging area."""

from __future__ import annotations

from dataclasses import dataclass

import httpx

from bot.dingtalk.clients import AccessTokens, TokenUnavailable
from bot.media import DownloadFailed, stage_response
from handlers.message import Attachment

DOWNLOAD_PATH = "/v1.0/robot/messageFiles/download"


@dataclass(frozen=True)
class RobotFile:
    """A picture or file message: what to exchange for the download URL, and the name the user sees."""

    download_code: str
    robot_code: str | None
    name: str


async def fetch(
    http: httpx.AsyncClient, tokens: AccessTokens, api_base: str, robot_code: str, file: RobotFile
) -> Attachment:
    """One try: the download URL, then the file. DownloadFailed says why it failed."""
    try:
        token = await tokens.get()
    except TokenUnavailable as error:
        raise DownloadFailed(f"access token: {error}") from error
    try:
        answer = await http.post(
            api_base.rstrip("/") + DOWNLOAD_PATH,
            json={"downloadCode": file.download_code, "robotCode": file.robot_code or robot_code},
            headers={"x-acs-dingtalk-access-token": token},
        )
    except httpx.HTTPError as error:
        raise DownloadFailed(type(error).__name__) from error
    if answer.status_code in (401, 403):
        await tokens.reject(token)
        raise DownloadFailed(f"HTTP {answer.status_code}")
    if answer.status_code != 200:
        raise DownloadFailed(
            f"HTTP {answer.status_code}", final=400 <= answer.status_code < 500 and answer.status_code != 429
        )
    try:
        url = answer.json().get("downloadUrl")
    except (ValueError, AttributeError) as error:
        raise DownloadFailed("应答不是 JSON") from error
    if not isinstance(url, str) or not url.startswith(("https://", "http://")):
        raise DownloadFailed("应答缺少 downloadUrl")
    try:
        async with http.stream("GET", url) as response:
            if response.status_code != 200:
                raise DownloadFailed(f"下载 HTTP {response.status_code}")
            return await stage_response(response, file.name)
    except httpx.HTTPError as error:
        raise DownloadFailed(type(error).__name__) from error
