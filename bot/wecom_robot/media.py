"""Pictures and files sent to the robot: download within WeCom's five minutes, then decrypt with the message's key.

Each image or file in a callback carries a download url and its own `aeskey` (base64 of a 32-byte key). The
download is AES-256-CBC ciphertext; the IV is the key's first 16 bytes and the padding is PKCS#7 to a multiple
of 32 bytes (as in WeCom's callback encryption), which `cryptography`'s 16-byte PKCS7 unpadder would refuse —
hence the padding is checked here by hand.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from urllib.parse import unquote

import httpx
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from bot.media import DownloadFailed, filename_of
from bot.wecom_robot.inbound import Attachment
from handlers.message import Attachment as FileAttachment
from storage.files import CHUNK_BYTES, Staging, TooLarge

MAX_DOWNLOAD_BYTES = 20 * 1024 * 1024  # WeCom lets users send files of up to 20 MB to a robot
_PAD_BLOCK = 32
_FILENAME_STAR = re.compile(r"filename\*=UTF-8''([^;\s]+)", re.IGNORECASE)
_FILENAME = re.compile(r'filename="?([^";]+)"?', re.IGNORECASE)


class MediaError(Exception):
    """The download failed or did not decrypt (an expired url, a wrong key, a truncated body)."""


@dataclass(frozen=True)
class Media:
    data: bytes
    filename: str | None  # from Content-Disposition, when WeCom sends one


def decrypt(ciphertext: bytes, aes_key: str) -> bytes:
    """The plaintext of a downloaded attachment."""
    try:
        key = base64.b64decode(aes_key + "=" * (-len(aes_key) % 4), validate=True)
    except (binascii.Error, ValueError) as error:
        raise MediaError("aeskey 不是有效的 base64") from error
    if len(key) != 32:
        raise MediaError(f"aeskey 应为 32 字节，实为 {len(key)} 字节")
    if not ciphertext or len(ciphertext) % 16:
        raise MediaError("密文长度不是 16 字节的整数倍")
    decryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).decryptor()
    padded = decryptor.update(ciphertext) + decryptor.finalize()
    pad = padded[-1]
    if not 1 <= pad <= _PAD_BLOCK or padded[-pad:] != bytes([pad]) * pad:
        raise MediaError("解密后的填充无效（aeskey 不对或文件不完整）")
    return padded[:-pad]


async def fetch(http: httpx.AsyncClient, attachment: Attachment) -> Media:
    """Download and decrypt one attachment; MediaError says why it could not be read."""
    try:
        async with http.stream("GET", attachment.url) as response:
            if response.status_code != 200:
                raise MediaError(f"下载失败：HTTP {response.status_code}")
            chunks: list[bytes] = []
            size = 0
            async for chunk in response.aiter_bytes():
                size += len(chunk)
                if size > MAX_DOWNLOAD_BYTES:
                    raise MediaError("文件超过 20 MB")
                chunks.append(chunk)
            disposition = response.headers.get("content-disposition", "")
    except httpx.HTTPError as error:
        raise MediaError(f"下载失败：{type(error).__name__}") from error
    return Media(decrypt(b"".join(chunks), attachment.aes_key), _filename(disposition))


def _filename(disposition: str) -> str | None:
    if match := _FILENAME_STAR.search(disposition):
        return unquote(match.group(1))
    if match := _FILENAME.search(disposition):
        return unquote(match.group(1).strip())
    return None


async def fetch_staged(http: httpx.AsyncClient, attachment: Attachment, name: str) -> FileAttachment:
    """Download and decrypt one attachment into the staging area as it arrives (memory stays flat): only the last
    32 bytes of plaintext wait, until the padding they end with is checked. DownloadFailed says why a try failed."""
    try:
        key = base64.b64decode(attachment.aes_key + "=" * (-len(attachment.aes_key) % 4), validate=True)
    except (binascii.Error, ValueError) as error:
        raise DownloadFailed("aeskey 不是有效的 base64", final=True) from error
    if len(key) != 32:
        raise DownloadFailed("aeskey 应为 32 字节", final=True)
    decryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).decryptor()
    try:
        async with http.stream("GET", attachment.url) as response:
            if response.status_code != 200:
                raise DownloadFailed(f"HTTP {response.status_code}", final=response.status_code == 404)
            name = filename_of(response.headers.get("content-disposition", "")) or name
            staging = Staging(name=name)
            held = b""
            try:
                async for chunk in response.aiter_bytes(CHUNK_BYTES):
                    held += decryptor.update(chunk)
                    if len(held) > _PAD_BLOCK:
                        staging.write(held[:-_PAD_BLOCK])
                        held = held[-_PAD_BLOCK:]
                held += decryptor.finalize()
            except TooLarge:
                return FileAttachment(name=name, problem="too_large")
            except ValueError as error:  # not a whole number of blocks
                staging.abort()
                raise DownloadFailed("密文长度不是 16 字节的整数倍", final=True) from error
    except httpx.HTTPError as error:
        raise DownloadFailed(type(error).__name__) from error
    pad = held[-1] if held else 0
    if not 1 <= pad <= _PAD_BLOCK or held[-pad:] != bytes([pad]) * pad:
        staging.abort()
        raise DownloadFailed("解密后的填充无效（aeskey 不对或文件不完整）", final=True)
    try:
        staging.write(held[:-pad])
    except TooLarge:
        return FileAttachment(name=name, problem="too_large")
    return FileAttachment(name=name, staged=staging.finish())
