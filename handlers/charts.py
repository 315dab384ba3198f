"""The rectification-rate chart (PNG): each unit's rate as a bar against the target line.

Drawn with matplotlib's Agg backend through the object API (no pyplot state), in a CJK font found on
the machine — the set-up installs Debian's fonts-noto-cjk. Without one, Chinese labels would come out as
empty boxes, so `font_family()` says None and callers send text instead of a broken picture.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache, lru_cache

log = logging.getLogger("duban.charts")

# Simplified-Chinese fonts in order of preference: Debian's fonts-noto-cjk first, then what desktops ship.
CJK_FAMILIES = (
    "Noto Sans CJK SC",
    "Source Han Sans SC",
    "Noto Sans SC",
    "WenQuanYi Zen Hei",
    "WenQuanYi Micro Hei",
    "Microsoft YaHei",
    "PingFang SC",
    "SimHei",
)
MAX_BARS = 30
COLORS = {"red": "#d9363e", "yellow": "#e6a23c", "green": "#3a9d5d"}


@dataclass(frozen=True)
class Bar:
    label: str  # the unit's name
    rate: float
    logged: int
    light: str  # red / yellow / green


@cache
def font_family() -> str | None:
    """The first installed CJK font family (looked up once per process), or None."""
    from matplotlib import font_manager

    installed = {font.name for font in font_manager.fontManager.ttflist}
    family = next((name for name in CJK_FAMILIES if name in installed), None)
    if family is None:
        # matplotlib keeps its font list in a cache file that it never refreshes when fonts are installed later
        # (an administrator installing fonts-noto-cjk after the first start would still get no charts): look
        # once more without the cache. _load_fontmanager is private but has kept its signature since 3.2.
        font_manager.fontManager = font_manager._load_fontmanager(try_read_cache=False)  # type: ignore[attr-defined]
        installed = {font.name for font in font_manager.fontManager.ttflist}
        family = next((name for name in CJK_FAMILIES if name in installed), None)
    if family is None:
        log.warning("no CJK font installed; charts are disabled (install fonts-noto-cjk)")
    return family


def choose_bars(bars: Sequence[Bar], limit: int = MAX_BARS) -> list[Bar]:
    """The units worth drawing, worst first: lowest rate among units with issues, then units without any."""
    ranked = sorted(bars, key=lambda b: (b.logged == 0, b.rate, b.label))
    return ranked[:limit]


def rate_chart(bars: Sequence[Bar], *, title: str, target: float | None, expected: float | None) -> bytes:
    """A horizontal bar chart as PNG bytes; raises RuntimeError when no CJK font is installed."""
    if font_family() is None:
        raise RuntimeError("no CJK font installed")
    return _drawn(tuple(choose_bars(bars)), title, target, expected)


@lru_cache(maxsize=32)
def _drawn(chosen: tuple[Bar, ...], title: str, target: float | None, expected: float | None) -> bytes:
    """The drawing, kept for the same figures: matplotlib takes tens of milliseconds of CPU per chart, and the
    same 汇总 is asked again and again between changes (the title carries the date, so a chart lasts a day
    at most). 32 PNGs of some tens of KB each."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    family = font_family()
    assert family is not None
    shown = list(reversed(chosen))  # barh draws bottom-up: the worst unit ends on top
    height = 1.6 + 0.36 * max(len(shown), 1)
    figure = Figure(figsize=(8, height), dpi=110, layout="constrained")
    FigureCanvasAgg(figure)
    # Fonts are passed to each text rather than through rcParams, which are process-global state.
    axes = figure.add_subplot()
    positions = list(range(len(shown)))
    axes.barh(
        positions, [b.rate * 100 for b in shown], color=[COLORS.get(b.light, "#888888") for b in shown], height=0.62
    )
    axes.set_yticks(positions, labels=[b.label for b in shown], fontfamily=family)
    for position, bar in zip(positions, shown, strict=True):
        text = f"{bar.rate:.0%}" if bar.logged else "无问题"
        axes.text(bar.rate * 100 + 1, position, text, va="center", fontsize=9, fontfamily=family)
    if target is not None:
        axes.axvline(target * 100, color="#d9363e", linestyle="--", linewidth=1.4, label=f"目标 {target:.0%}")
    if expected is not None and expected != target:
        axes.axvline(expected * 100, color="#555555", linestyle=":", linewidth=1.2, label=f"按进度应达 {expected:.0%}")
    axes.set_xlim(0, 112)
    axes.set_xlabel("整改率（%）", fontfamily=family)
    axes.set_title(title, fontsize=12, fontfamily=family)
    if target is not None or expected is not None:
        axes.legend(loc="lower right", prop={"family": family, "size": 9})
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()
