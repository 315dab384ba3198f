"""Pictures and files: downloaded from a fake media host on loopback and decrypted with the message's own key."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from bot.wecom_robot.inbound import Attachment
from bot.wecom_robot.media import Media, MediaError, decrypt, fetch
from tests.bot.wecom_robot.fake_server import FakeMediaHost, encrypt, new_aes_key

REPORT = "自查整改报告（法制科）\n".encode() * 500  # not a multiple of 32 bytes: the padding matters


def download(attachment: Attachment) -> Media:
    async def run() -> Media:
        async with httpx.AsyncClient() as http:
            return await fetch(http, attachment)

    return asyncio.run(run())


def test_a_file_is_downloaded_and_decrypted_with_its_own_key(media_host: FakeMediaHost) -> None:
    key = new_aes_key()
    url = media_host.put(encrypt(REPORT, key), "自查整改报告.docx")
    media = download(Attachment("file", url, key))
    assert media.data == REPORT and media.filename == "自查整改报告.docx"


def test_another_message_s_key_does_not_open_it(media_host: FakeMediaHost) -> None:
    url = media_host.put(encrypt(REPORT, new_aes_key()), "a.png")
    with pytest.raises(MediaError, match="填充无效"):
        download(Attachment("image", url, new_aes_key()))


def test_an_expired_url_says_so(media_host: FakeMediaHost) -> None:
    with pytest.raises(MediaError, match="HTTP 404"):
        download(Attachment("image", f"{media_host.base_url}/media/gone", new_aes_key()))


@pytest.mark.parametrize(
    ("ciphertext", "key", "reason"),
    [
        (b"x" * 32, "not base64!", "base64"),
        (b"x" * 32, "c2hvcnQ", "32 字节"),
        (b"x" * 33, new_aes_key(), "16 字节"),
    ],
)
def test_undecryptable_input_is_refused(ciphertext: bytes, key: str, reason: str) -> None:
    with pytest.raises(MediaError, match=reason):
        decrypt(ciphertext, key)
