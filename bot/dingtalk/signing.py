"""DingTalk's one signature, used both ways: on robot callbacks it receives and on custom group robots it sends.

sign = base64(HMAC-SHA256(key=secret, msg=timestamp + "\\n" + secret)), timestamp in milliseconds. Hand-written
with the standard library: no maintained package does the HTTP-callback side, and it is three lines of hmac.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import datetime


def sign(timestamp: str, secret: str) -> str:
    """The base64 signature of `timestamp` (ms, as sent) under `secret`."""
    digest = hmac.new(secret.encode(), f"{timestamp}\n{secret}".encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def is_valid(timestamp: str, signature: str, secret: str) -> bool:
    """Whether a callback's `sign` header matches, compared in constant time."""
    return hmac.compare_digest(sign(timestamp, secret).encode(), signature.encode())


def millis(moment: datetime) -> int:
    """A moment as DingTalk writes it: milliseconds since the epoch."""
    return int(moment.timestamp() * 1000)
