"""Where the long-connection channels read the time and wait, so tests move time by hand instead of sleeping."""

from __future__ import annotations

import asyncio
from typing import Protocol


class Timing(Protocol):
    """Where the connection reads the time and waits (tests give it a clock they move by hand)."""

    def monotonic(self) -> float: ...

    async def sleep(self, seconds: float) -> None: ...


class LoopTiming:
    """The event loop's own clock."""

    def monotonic(self) -> float:
        return asyncio.get_running_loop().time()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)
