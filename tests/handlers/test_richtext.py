"""One document, two renderings: what the simulator shows and what WeCom/DingTalk markdown shows."""

from __future__ import annotations

from handlers.richtext import Doc, Field, Heading, Item, Line, escape_markdown


def sample() -> Doc:
    return Doc("【专项整治】汇总").add(
        Field("整改率", "25.0%"),
        Heading("报送事项"),
        Item("联系人表：未报送 法制科"),
        Item("统计表"),
        Line("发送「图表」查看图表"),
    )


def test_plain_text_reads_like_a_chat_message() -> None:
    assert sample().plain() == (
        "【专项整治】汇总\n整改率：25.0%\n报送事项：\n· 联系人表：未报送 法制科\n· 统计表\n发送「图表」查看图表"
    )


def test_markdown_has_hard_breaks_and_a_closed_list() -> None:
    markdown = sample().markdown()
    assert markdown.startswith("### 【专项整治】汇总\n**整改率**：25.0%  \n**报送事项**  \n- 联系人表")
    # The line after the list is separated by a blank line, or DingTalk would glue it to the last item.
    assert "- 统计表\n\n发送「图表」查看图表  " in markdown


def test_user_text_cannot_open_markup() -> None:
    rendered = Doc("*标题*").add(Item("[链接](http://x) <font color=red>x</font>"), Line("#12 不是标题")).markdown()
    assert "*标题*" not in rendered and "[链接]" not in rendered and "<font" not in rendered
    assert rendered.startswith("### ＊标题＊") and rendered.endswith("\n＃12 不是标题  ")
    assert escape_markdown("普通文字 12%") == "普通文字 12%"
