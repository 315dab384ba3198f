"""Tests for core.dates: the Chinese date parser for chat messages and campaign plans."""

import unicodedata
from datetime import date

import cn2an
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.dates import DateContext, find_date, find_dates, format_cn, parse_date, parse_range


def campaign(start: date, end: date, today: date) -> DateContext:
    return DateContext(campaign_start=start, campaign_end=end, today=today)


# A campaign within 2020, talked about on 2020-06-15.
CTX = campaign(date(2020, 3, 1), date(2020, 12, 31), today=date(2020, 6, 15))
# A campaign spanning the new year.
SPAN = campaign(date(2020, 10, 1), date(2021, 3, 31), today=date(2020, 11, 20))
# A campaign in a common (non-leap) year.
CTX_2021 = campaign(date(2021, 1, 1), date(2021, 12, 31), today=date(2021, 2, 10))

PROPERTY_SETTINGS = settings(max_examples=300, deadline=None, database=None)


def ctx_today(today: date) -> DateContext:
    """The 2020 campaign, seen from another day."""
    return campaign(CTX.campaign_start, CTX.campaign_end, today=today)


# --- parse_date: the forms of the spec --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2020年9月10日", date(2020, 9, 10)),
        ("2020-09-10", date(2020, 9, 10)),
        ("2020/9/10", date(2020, 9, 10)),
        ("2020.9.10", date(2020, 9, 10)),
        ("2020-9-1", date(2020, 9, 1)),
        ("2021年1月5日", date(2021, 1, 5)),
        ("9月10日", date(2020, 9, 10)),
        ("9月10号", date(2020, 9, 10)),
        ("09月01日", date(2020, 9, 1)),
        ("9月10日前", date(2020, 9, 10)),
        ("九月十日", date(2020, 9, 10)),
        ("十二月三十一日", date(2020, 12, 31)),
        ("十一月二十一日", date(2020, 11, 21)),
        ("十月廿一日", date(2020, 10, 21)),
        ("二〇二〇年九月十日", date(2020, 9, 10)),
        ("二零二零年九月十日", date(2020, 9, 10)),
        ("二○二○年九月十日", date(2020, 9, 10)),  # U+25CB WHITE CIRCLE, as PDFs render 〇
        ("二O二O年九月十日", date(2020, 9, 10)),  # a Latin O, as OCR reads 〇
        ("9月上旬", date(2020, 9, 10)),
        ("9月中旬", date(2020, 9, 20)),
        ("9月下旬", date(2020, 9, 30)),
        ("9月初", date(2020, 9, 10)),
        ("9月底", date(2020, 9, 30)),
        ("9月末", date(2020, 9, 30)),
        ("10月底", date(2020, 10, 31)),
        ("九月底", date(2020, 9, 30)),
        ("2020年6月底前", date(2020, 6, 30)),
        ("2020年6月下旬", date(2020, 6, 30)),
        ("2020年底", date(2020, 12, 31)),
        ("2020年底前", date(2020, 12, 31)),
        ("9月10", date(2020, 9, 10)),  # chat shorthand without 日
        ("9月10前", date(2020, 9, 10)),
    ],
)
def test_parse_date_forms(text: str, expected: date) -> None:
    assert parse_date(text, ctx=CTX) == expected


@pytest.mark.parametrize(
    ("text", "start", "end"),
    [
        ("9月上旬", date(2020, 9, 1), date(2020, 9, 10)),
        ("9月中旬", date(2020, 9, 11), date(2020, 9, 20)),
        ("9月下旬", date(2020, 9, 21), date(2020, 9, 30)),
        ("10月下旬", date(2020, 10, 21), date(2020, 10, 31)),
        ("2月下旬", date(2020, 2, 21), date(2020, 2, 29)),
        ("9月初", date(2020, 9, 1), date(2020, 9, 10)),
        ("九月上旬", date(2020, 9, 1), date(2020, 9, 10)),
        ("9月底", date(2020, 9, 30), date(2020, 9, 30)),
        ("9月末", date(2020, 9, 30), date(2020, 9, 30)),
        ("9月10日", date(2020, 9, 10), date(2020, 9, 10)),
        ("9月上旬前", date(2020, 9, 1), date(2020, 9, 10)),
    ],
)
def test_parts_of_a_month_depend_on_role(text: str, start: date, end: date) -> None:
    assert parse_date(text, ctx=CTX, role="start") == start
    assert parse_date(text, ctx=CTX, role="end") == end
    assert parse_date(text, ctx=CTX) == end  # "end" is the default


# --- parse_date: the calendar -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "ctx", "expected"),
    [
        ("2月底", CTX, date(2020, 2, 29)),
        ("2月末", CTX, date(2020, 2, 29)),
        ("2月下旬", CTX, date(2020, 2, 29)),
        ("2月29日", CTX, date(2020, 2, 29)),
        ("二月二十九日", CTX, date(2020, 2, 29)),
        ("2月底", CTX_2021, date(2021, 2, 28)),
        ("2月下旬", CTX_2021, date(2021, 2, 28)),
        ("2月29日", CTX_2021, None),
        ("2021年2月29日", CTX, None),
        ("2000年2月29日", CTX, date(2000, 2, 29)),
        ("1900年2月29日", CTX, None),
        ("2100年2月底", CTX, date(2100, 2, 28)),
        ("2024年2月底", CTX, date(2024, 2, 29)),
        ("2024-02-29", CTX, date(2024, 2, 29)),
    ],
)
def test_leap_years(text: str, ctx: DateContext, expected: date | None) -> None:
    assert parse_date(text, ctx=ctx) == expected


@pytest.mark.parametrize(
    ("text", "role", "expected"),
    [
        ("1月5日", "end", date(2021, 1, 5)),
        ("12月1日", "end", date(2020, 12, 1)),
        ("10月1日", "end", date(2020, 10, 1)),  # the campaign's first day counts as "on or after"
        ("3月31日", "end", date(2021, 3, 31)),
        ("12月下旬", "end", date(2020, 12, 31)),
        ("1月上旬", "start", date(2021, 1, 1)),
        ("一月五日", "end", date(2021, 1, 5)),
        ("2月底", "end", date(2021, 2, 28)),
        ("9月30日", "end", date(2021, 9, 30)),  # before the start in 2020, so the first one after it
        ("2020年1月5日", "end", date(2020, 1, 5)),  # an explicit year always wins
        ("2021-12-01", "end", date(2021, 12, 1)),
    ],
)
def test_campaign_spanning_a_new_year(text: str, role: str, expected: date) -> None:
    assert parse_date(text, ctx=SPAN, role=role) == expected  # type: ignore[arg-type]


def test_spanning_campaign_takes_the_first_date_on_or_after_its_start() -> None:
    mid_december = campaign(date(2020, 12, 15), date(2021, 3, 31), today=date(2020, 12, 15))
    assert parse_date("12月20日", ctx=mid_december) == date(2020, 12, 20)
    assert parse_date("12月15日", ctx=mid_december) == date(2020, 12, 15)
    assert parse_date("12月10日", ctx=mid_december) == date(2021, 12, 10)


def test_spanning_campaign_and_february_29() -> None:
    leap = campaign(date(2023, 10, 1), date(2024, 3, 31), today=date(2023, 11, 1))
    common = campaign(date(2021, 10, 1), date(2022, 3, 31), today=date(2021, 11, 1))
    assert parse_date("2月29日", ctx=leap) == date(2024, 2, 29)
    assert parse_date("2月底", ctx=leap) == date(2024, 2, 29)
    assert parse_date("2月29日", ctx=common) is None
    assert parse_date("2月底", ctx=common) == date(2022, 2, 28)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1月5日", date(2020, 1, 5)),  # before the campaign starts, but a single-year campaign keeps its year
        ("2月1日", date(2020, 2, 1)),
        ("12月31日", date(2020, 12, 31)),
    ],
)
def test_single_year_campaign_always_uses_its_year(text: str, expected: date) -> None:
    assert parse_date(text, ctx=CTX) == expected


# --- parse_date: messy input ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("２０２０年９月１０日", date(2020, 9, 10)),
        ("２０２０－０９－１０", date(2020, 9, 10)),
        ("２０２０／９／１０", date(2020, 9, 10)),
        ("２０２０．９．１０", date(2020, 9, 10)),
        ("９月１０日前。", date(2020, 9, 10)),
        ("９月１０号", date(2020, 9, 10)),
        ("（９月１０日）", date(2020, 9, 10)),
        ("【9月10日】", date(2020, 9, 10)),
        ("“9月10日”", date(2020, 9, 10)),
        ("9月10日！", date(2020, 9, 10)),
        ("９月上旬", date(2020, 9, 10)),
        ("㋈10日", date(2020, 9, 10)),  # U+32C8, a single "9月" character that NFKC expands
    ],
)
def test_full_width_and_punctuation(text: str, expected: date) -> None:
    assert parse_date(text, ctx=CTX) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("6 月 25 日", date(2020, 6, 25)),
        ("2020 年 6 月 25 日", date(2020, 6, 25)),
        ("  9月10日  ", date(2020, 9, 10)),
        ("\u30009月10日\u3000", date(2020, 9, 10)),  # ideographic spaces
        ("9 月 上 旬", date(2020, 9, 10)),
        ("9月10日 前", date(2020, 9, 10)),
        ("2020 - 09 - 10", date(2020, 9, 10)),
        ("二〇二〇 年 九 月 十 日", date(2020, 9, 10)),
        ("9月\n10日", date(2020, 9, 10)),
    ],
)
def test_spaces_inside(text: str, expected: date) -> None:
    assert parse_date(text, ctx=CTX) == expected


def test_space_between_digits_is_not_dropped() -> None:
    # Gluing "1 6" into 16 would invent a month.
    assert parse_date("1 6月10日", ctx=CTX) is None
    assert parse_date("2020 9 10", ctx=CTX) is None


@pytest.mark.parametrize(
    "text",
    [
        "9月10日前",
        "9月10日之前",
        "9月10日以前",
        "9月10日止",
        "9月10日为止",
        "9月10日截止",
        "9月10日完成",
        "9月10日前完成",
        "9月10日之前完成",
        "9月10日前。",
        "9月10号前",
        "九月十日前",
    ],
)
def test_trailing_deadline_words(text: str) -> None:
    assert parse_date(text, ctx=CTX) == date(2020, 9, 10)


@pytest.mark.parametrize(
    "text", ["于9月10日前", "截至9月10日", "截止9月10日", "最迟9月10日", "不晚于9月10日", "在9月10日前"]
)
def test_leading_prepositions(text: str) -> None:
    assert parse_date(text, ctx=CTX) == date(2020, 9, 10)


@pytest.mark.parametrize(
    "text",
    [
        "9月10日（星期四）",
        "9月10日(周四)前",
        "9月10日周四",
        "2020年9月10日17:00前",
        "2020-09-10 17:00",
        "9月10日下午5点前",
        "9月10日12时",
        "9月10日17时30分前",
        "9月10日（周四）17:00前",
    ],
)
def test_weekday_and_time_of_day_are_ignored(text: str) -> None:
    assert parse_date(text, ctx=CTX) == date(2020, 9, 10)


@pytest.mark.parametrize(
    "text",
    [
        "2月30日",
        "13月1日",
        "9月31日",
        "0月1日",
        "9月0日",
        "9月32日",
        "2020-13-01",
        "2020-02-30",
        "2020/4/31",
        "十三月一日",
        "二月三十日",
        "九月三十一日",
        "十十月一日",
        "0000-01-01",
        "〇〇〇〇年一月一日",
    ],
)
def test_invalid_calendar_dates(text: str) -> None:
    assert parse_date(text, ctx=CTX) is None
    assert parse_date(text, ctx=CTX, role="start") is None


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "。",
        "下周找时间",
        "随便写点",
        "9月10日前完成整改",  # only deadline words may follow the date, not the task itself
        "9月10日开会",
        "明天再说",
        "今天下午开会",
        "9月",
        "2020年9月",
        "九月",
        "2020",
        "10",
        "前",
        "9月10个部门",
        "每月底",
        "上月底",
        "9月10日至9月20日",  # a range is parse_range's job
        "6月上旬至9月下旬",
        "请于9月10日前报送",
        "2020年9月10日和2020年9月11日",
    ],
)
def test_not_a_single_date(text: str) -> None:
    assert parse_date(text, ctx=CTX) is None


# --- parse_date: relative to today ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("今天", date(2020, 6, 15)),
        ("今日", date(2020, 6, 15)),
        ("明天", date(2020, 6, 16)),
        ("明日", date(2020, 6, 16)),
        ("后天", date(2020, 6, 17)),
        ("大后天", date(2020, 6, 18)),
        ("明天前", date(2020, 6, 16)),
        ("月底", date(2020, 6, 30)),
        ("月底前", date(2020, 6, 30)),
        ("月末", date(2020, 6, 30)),
        ("本月底", date(2020, 6, 30)),
        ("本月末前", date(2020, 6, 30)),
        ("这个月底", date(2020, 6, 30)),
        ("本月中旬", date(2020, 6, 20)),
        ("本月20日", date(2020, 6, 20)),
        ("下月底", date(2020, 7, 31)),
        ("下个月底", date(2020, 7, 31)),
        ("下月初", date(2020, 7, 10)),
        ("下月10日", date(2020, 7, 10)),
        ("次月10日前", date(2020, 7, 10)),
        ("年底", date(2020, 12, 31)),
        ("年底前", date(2020, 12, 31)),
        ("今年底", date(2020, 12, 31)),
        ("明年底", date(2021, 12, 31)),
    ],
)
def test_relative_to_today(text: str, expected: date) -> None:
    assert parse_date(text, ctx=CTX) == expected


@pytest.mark.parametrize(
    ("today", "text", "expected"),
    [
        (date(2020, 9, 3), "月底前", date(2020, 9, 30)),
        (date(2020, 2, 3), "本月底", date(2020, 2, 29)),
        (date(2020, 1, 15), "下月底", date(2020, 2, 29)),
        (date(2020, 12, 20), "下月底", date(2021, 1, 31)),
        (date(2020, 12, 31), "明天", date(2021, 1, 1)),
        (date(2020, 2, 28), "后天", date(2020, 3, 1)),
    ],
)
def test_relative_dates_follow_ctx_today(today: date, text: str, expected: date) -> None:
    assert parse_date(text, ctx=ctx_today(today)) == expected


def test_month_end_follows_today_not_the_campaign() -> None:
    assert parse_date("月底前", ctx=SPAN) == date(2020, 11, 30)
    assert parse_date("月底前", role="start", ctx=SPAN) == date(2020, 11, 30)


def test_relative_day_at_the_end_of_the_calendar_is_none() -> None:
    assert parse_date("明天", ctx=ctx_today(date.max)) is None


# --- find_date --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "各行政执法机关于6月10日前报送行政执法不作为慢作为乱作为专项整治工作联系人(附件1)",
            date(2020, 6, 10),
        ),
        ("于2020年9月30日前完成本系统", date(2020, 9, 30)),
        ("于2020年9月30日前完成本系统行政执法不作为慢作为乱作为问题的自查自纠工作", date(2020, 9, 30)),
        ("6月10日前报送联系人，9月30日前完成整改", date(2020, 6, 10)),
        ("会议定于2020-09-10 17:00召开", date(2020, 9, 10)),
        ("请于本月底前提交自查报告", date(2020, 6, 30)),
        ("截至２０２０年９月１０日，共收到线索12条", date(2020, 9, 10)),
        ("附件1 6月10日前报送", date(2020, 6, 10)),
        ("二〇二〇年九月十日印发", date(2020, 9, 10)),
        ("12月底前全面完成整改任务", date(2020, 12, 31)),
        ("各单位要在 6 月 25 日前将总结报市整治办", date(2020, 6, 25)),
        ("2月30日（笔误）请于3月5日前报送", date(2020, 3, 5)),  # an impossible date is skipped
        ("第二阶段（7月上旬至9月下旬）", date(2020, 7, 10)),
        ("请下月底前报送", date(2020, 7, 31)),
    ],
)
def test_find_date_in_notices(text: str, expected: date) -> None:
    assert find_date(text, ctx=CTX) == expected


def test_find_date_role() -> None:
    text = "请各单位于9月上旬报送整改清单"
    assert find_date(text, ctx=CTX, role="start") == date(2020, 9, 1)
    assert find_date(text, ctx=CTX, role="end") == date(2020, 9, 10)


def test_find_date_uses_the_campaign_year() -> None:
    assert find_date("请于1月5日前报送", ctx=SPAN) == date(2021, 1, 5)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "请尽快报送",
        "共有3个部门参加",
        "联系电话：13812345678",
        "文号〔2020〕15号",
        "每月底报送一次",
        "下周找时间",
        "版本1.2.3",
        "2月30日",
        "岁月初心",
    ],
)
def test_find_date_none(text: str) -> None:
    assert find_date(text, ctx=CTX) is None


# --- parse_range ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("6月上旬至9月下旬前", (date(2020, 6, 1), date(2020, 9, 30))),
        ("10月上旬至10月下旬", (date(2020, 10, 1), date(2020, 10, 31))),
        ("7月上旬至9月下旬", (date(2020, 7, 1), date(2020, 9, 30))),
        ("6月中旬至7月中旬", (date(2020, 6, 11), date(2020, 7, 20))),
        ("6月初至6月底", (date(2020, 6, 1), date(2020, 6, 30))),
        ("6月10日-9月30日", (date(2020, 6, 10), date(2020, 9, 30))),
        ("6月10日至9月30日", (date(2020, 6, 10), date(2020, 9, 30))),
        ("6月10日到9月30日", (date(2020, 6, 10), date(2020, 9, 30))),
        ("6月10日~9月30日", (date(2020, 6, 10), date(2020, 9, 30))),
        ("6月10日～9月30日", (date(2020, 6, 10), date(2020, 9, 30))),
        ("6月10日〜9月30日", (date(2020, 6, 10), date(2020, 9, 30))),
        ("6月10日—9月30日", (date(2020, 6, 10), date(2020, 9, 30))),
        ("6月10日——9月30日", (date(2020, 6, 10), date(2020, 9, 30))),
        ("6月10日－9月30日", (date(2020, 6, 10), date(2020, 9, 30))),
        ("2020-06-10至2020-09-30", (date(2020, 6, 10), date(2020, 9, 30))),
        ("2020.6.10-2020.9.30", (date(2020, 6, 10), date(2020, 9, 30))),
        ("6月1日至10日", (date(2020, 6, 1), date(2020, 6, 10))),
        ("6月1日-10日", (date(2020, 6, 1), date(2020, 6, 10))),
        ("六月一日至十日", (date(2020, 6, 1), date(2020, 6, 10))),
        ("6月上旬至下旬", (date(2020, 6, 1), date(2020, 6, 30))),
        ("2020年6月1日至9月30日", (date(2020, 6, 1), date(2020, 9, 30))),
        ("2020年11月1日至2月28日", (date(2020, 11, 1), date(2021, 2, 28))),  # the end rolls into next year
        ("自2020年6月1日起至2020年9月30日止", (date(2020, 6, 1), date(2020, 9, 30))),
        ("从6月1日到9月30日", (date(2020, 6, 1), date(2020, 9, 30))),
        ("6 月上旬 至 9 月下旬", (date(2020, 6, 1), date(2020, 9, 30))),
        ("６月１日至９月３０日", (date(2020, 6, 1), date(2020, 9, 30))),
        ("今天至月底", (date(2020, 6, 15), date(2020, 6, 30))),
        ("6月10日至9月30日前完成", (date(2020, 6, 10), date(2020, 9, 30))),
        ("6月1日（周一）至6月10日（周三）", (date(2020, 6, 1), date(2020, 6, 10))),
    ],
)
def test_parse_range(text: str, expected: tuple[date, date]) -> None:
    assert parse_range(text, ctx=CTX) == expected


def test_parse_range_across_the_new_year() -> None:
    assert parse_range("12月1日至1月31日", ctx=SPAN) == (date(2020, 12, 1), date(2021, 1, 31))
    assert parse_range("10月上旬至3月下旬", ctx=SPAN) == (date(2020, 10, 1), date(2021, 3, 31))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("9月10日前", date(2020, 9, 10)),
        ("9月上旬", date(2020, 9, 10)),
        ("2020-09-10", date(2020, 9, 10)),
        ("月底前", date(2020, 6, 30)),
    ],
)
def test_parse_range_single_date_is_an_end(text: str, expected: date) -> None:
    assert parse_range(text, ctx=CTX) == (None, expected)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "随便写点",
        "下周找时间",
        "6月上旬至",
        "6月上旬至随便",
        "6月21日至10日",  # a day-only end before the start
        "2020年9月30日至2020年6月1日",  # runs backwards
        "2月30日至3月10日",
        "6月1日至2月30日",
        "6月1日至9月30日开展排查",
        "6月1日至9月30日之间",
        "2月30日",
        "至9月30日",
    ],
)
def test_parse_range_none(text: str) -> None:
    assert parse_range(text, ctx=CTX) is None


# --- format_cn and the context ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "with_year", "expected"),
    [
        (date(2020, 9, 10), True, "2020年9月10日"),
        (date(2020, 9, 10), False, "9月10日"),
        (date(2021, 1, 5), True, "2021年1月5日"),
        (date(2020, 12, 31), False, "12月31日"),
    ],
)
def test_format_cn(day: date, with_year: bool, expected: str) -> None:
    assert format_cn(day, with_year=with_year) == expected


def test_format_cn_defaults_to_the_year() -> None:
    assert format_cn(date(2020, 9, 10)) == "2020年9月10日"


def test_context_rejects_a_campaign_ending_before_it_starts() -> None:
    with pytest.raises(ValueError, match="after it ends"):
        DateContext(campaign_start=date(2020, 12, 31), campaign_end=date(2020, 1, 1), today=date(2020, 6, 1))


def test_unknown_role_is_an_error() -> None:
    with pytest.raises(ValueError, match="role"):
        parse_date("9月10日", ctx=CTX, role="middle")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="role"):
        find_date("9月10日", ctx=CTX, role="middle")  # type: ignore[arg-type]


# --- Properties -------------------------------------------------------------------------------------------

# Every date expression needs an Arabic digit, a Chinese numeral, or one of 月 年 天 日.
DATE_CHARACTERS = set("〇○零一二三四五六七八九十廿月年天日")
DATE_ALPHABET = "0123456789 -/.~:（()年月日号上中下旬初底末前后至到起止今明天本个次周〇一二三四五六七八九十廿"
ROLES = st.sampled_from(["start", "end"])


def has_date_characters(text: str) -> bool:
    normalized = unicodedata.normalize("NFKC", text)
    return any(c.isdigit() or c in DATE_CHARACTERS for c in normalized)


@PROPERTY_SETTINGS
@given(text=st.text(), role=ROLES)
def test_never_raises_on_arbitrary_text(text: str, role: str) -> None:
    parse_date(text, ctx=CTX, role=role)  # type: ignore[arg-type]
    find_date(text, ctx=SPAN, role=role)  # type: ignore[arg-type]
    parse_range(text, ctx=CTX)


@PROPERTY_SETTINGS
@given(text=st.text(alphabet=DATE_ALPHABET, max_size=30), role=ROLES)
def test_never_raises_on_date_like_text(text: str, role: str) -> None:
    for ctx in (CTX, SPAN, CTX_2021):
        single = parse_date(text, ctx=ctx, role=role)  # type: ignore[arg-type]
        found = find_date(text, ctx=ctx, role=role)  # type: ignore[arg-type]
        if single is not None:
            assert found == single  # whatever parse_date reads, find_date finds too
        span = parse_range(text, ctx=ctx)
        if span is not None:
            start, end = span
            assert end is not None
            assert start is None or start <= end


@PROPERTY_SETTINGS
@given(text=st.text().filter(lambda t: not has_date_characters(t)), role=ROLES)
def test_none_without_digits_numerals_or_date_words(text: str, role: str) -> None:
    assert parse_date(text, ctx=CTX, role=role) is None  # type: ignore[arg-type]
    assert find_date(text, ctx=CTX, role=role) is None  # type: ignore[arg-type]
    assert parse_range(text, ctx=CTX) is None


FOUR_DIGIT_YEARS = st.dates(min_value=date(1000, 1, 1), max_value=date(9999, 12, 31))


@PROPERTY_SETTINGS
@given(day=FOUR_DIGIT_YEARS)
def test_format_cn_round_trips(day: date) -> None:
    assert parse_date(format_cn(day), ctx=CTX) == day


@PROPERTY_SETTINGS
@given(day=FOUR_DIGIT_YEARS, sep=st.sampled_from("-/."), padded=st.booleans())
def test_numeric_forms_round_trip(day: date, sep: str, padded: bool) -> None:
    month, day_of_month = (f"{day.month:02d}", f"{day.day:02d}") if padded else (day.month, day.day)
    text = f"{day.year}{sep}{month}{sep}{day_of_month}"
    assert parse_date(text, ctx=CTX) == day


@PROPERTY_SETTINGS
@given(day=FOUR_DIGIT_YEARS)
def test_chinese_numerals_round_trip(day: date) -> None:
    year = str(day.year).translate(str.maketrans("0123456789", "〇一二三四五六七八九"))
    text = f"{year}年{cn2an.an2cn(day.month)}月{cn2an.an2cn(day.day)}日"
    assert parse_date(text, ctx=CTX) == day


@PROPERTY_SETTINGS
@given(day=st.dates(min_value=date(2000, 1, 1), max_value=date(2099, 12, 31)))
def test_year_less_date_in_a_single_year_campaign(day: date) -> None:
    ctx = DateContext(campaign_start=date(day.year, 1, 1), campaign_end=date(day.year, 12, 31), today=day)
    assert parse_date(format_cn(day, with_year=False), ctx=ctx) == day


@PROPERTY_SETTINGS
@given(day=st.dates(min_value=SPAN.campaign_start, max_value=SPAN.campaign_end))
def test_year_less_date_in_a_spanning_campaign(day: date) -> None:
    assert parse_date(format_cn(day, with_year=False), ctx=SPAN) == day
    assert find_date(f"请于{format_cn(day, with_year=False)}前报送", ctx=SPAN) == day


@PROPERTY_SETTINGS
@given(
    first=st.dates(min_value=date(2020, 1, 1), max_value=date(2020, 12, 31)),
    length=st.integers(min_value=0, max_value=300),
)
def test_range_round_trips(first: date, length: int) -> None:
    last = date.fromordinal(first.toordinal() + length)
    text = f"{format_cn(first)}至{format_cn(last, with_year=last.year != first.year)}"
    assert parse_range(text, ctx=CTX) == (first, last)


# --- find_dates: every date of a sentence, with offsets into the text as given ----------------------------


def test_find_dates_gives_each_date_where_it_stands() -> None:
    text = "于 8 月 10 日前完成初稿修改，８月３１日前汇编成册；2月30日前；2020年9月30日(周三)完成"
    found = find_dates(text, ctx=CTX)
    assert [(f.text, f.day, f.deadline, f.has_year) for f in found] == [
        ("8 月 10 日", date(2020, 8, 10), True, False),
        ("８月３１日", date(2020, 8, 31), True, False),
        ("2月30日", None, True, False),  # kept so that a person can be shown it
        ("2020年9月30日(周三)", date(2020, 9, 30), False, True),
    ]
    assert all(text[f.start : f.end] == f.text for f in found)
    assert find_dates("明天上午报送", ctx=CTX)[0].relative


@PROPERTY_SETTINGS
@given(text=st.text(), role=ROLES)
def test_find_dates_never_raises_and_spans_are_ordered_slices(text: str, role: str) -> None:
    found = find_dates(text, ctx=SPAN, role=role)  # type: ignore[arg-type]
    previous_end = 0
    for hit in found:
        assert previous_end <= hit.start < hit.end <= len(text)
        assert text[hit.start : hit.end] == hit.text
        previous_end = hit.end


@PROPERTY_SETTINGS
@given(text=st.text(alphabet=DATE_ALPHABET, max_size=40), role=ROLES)
def test_find_dates_agrees_with_find_date(text: str, role: str) -> None:
    first = next((f.day for f in find_dates(text, ctx=CTX, role=role) if f.day), None)  # type: ignore[arg-type]
    assert first == find_date(text, ctx=CTX, role=role)  # type: ignore[arg-type]


@PROPERTY_SETTINGS
@given(text=st.text().filter(lambda t: not has_date_characters(t)))
def test_find_dates_finds_nothing_without_date_characters(text: str) -> None:
    assert find_dates(text, ctx=CTX) == []
