"""The rate chart is a real PNG with Chinese labels drawn from an installed CJK font (no empty boxes)."""

from __future__ import annotations

import io
import warnings

from PIL import Image as PILImage

from handlers.charts import Bar, _drawn, choose_bars, font_family, rate_chart

BARS = [
    Bar("法制科", 0.5, 4, "red"),
    Bar("执法监察支队", 0.5, 2, "yellow"),
    Bar("办公室", 1.0, 1, "green"),
    Bar("耕地保护科", 0.0, 0, "red"),
]


def test_a_cjk_font_is_installed_by_the_set_up() -> None:
    assert font_family() is not None, "install fonts-noto-cjk (make fonts / .ci/run do it)"


def test_chart_draws_every_chinese_glyph() -> None:
    _drawn.cache_clear()  # draw it here, under the warnings filter, not take a copy drawn by another test
    with warnings.catch_warnings():
        # matplotlib warns "Glyph … missing from font(s)" for each character it would draw as a box.
        warnings.simplefilter("error")
        png = rate_chart(BARS, title="各单位整改率（截至2020年7月15日）", target=0.9, expected=0.38)
    image = PILImage.open(io.BytesIO(png))
    assert image.format == "PNG" and image.width > 600 and image.height > 200


def test_the_worst_units_are_drawn_when_there_are_too_many() -> None:
    many = [Bar(f"单位{i}", i / 100, 10, "green") for i in range(100)] + [Bar("无问题单位", 0, 0, "green")]
    chosen = choose_bars(many, limit=30)
    assert [b.label for b in chosen[:3]] == ["单位0", "单位1", "单位2"] and len(chosen) == 30
    assert "无问题单位" not in [b.label for b in chosen]


def test_the_chart_is_drawn_again_when_a_figure_changes_and_reused_when_none_does() -> None:
    first = rate_chart(BARS, title="各单位整改率（截至2020年7月16日）", target=0.9, expected=0.4)
    assert rate_chart(list(BARS), title="各单位整改率（截至2020年7月16日）", target=0.9, expected=0.4) is first
    rectified = [Bar("法制科", 0.75, 4, "yellow"), *BARS[1:]]
    assert rate_chart(rectified, title="各单位整改率（截至2020年7月16日）", target=0.9, expected=0.4) != first
    assert rate_chart(BARS, title="各单位整改率（截至2020年7月17日）", target=0.9, expected=0.4) != first
