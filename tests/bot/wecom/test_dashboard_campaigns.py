"""Two campaigns in one deployment, seen from the dashboard: each page, /api route, export and download is about the
campaign `?campaign=<id>` names; a coordinator opens only the campaigns whose plans name them (a password login: its
own campaign; a WeCom or DingTalk account: every campaign that names it), switches between them in the header, and
is refused another's with a reason. One campaign looks exactly as before. (Here beside the fake WeCom its
sign-ins need; the chat side of several campaigns is in tests/handlers.)"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import unquote

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy import func, select

from bot.app import create_app
from core.clock import ManualClock
from core.statuses import ContactStatus
from plan.schema import parse_plan, read_plan
from plan.sync import load_plan
from storage.db import transaction
from storage.models import Campaign, Contact, Coordinator, Deliverable, Material, Unit
from storage.repos import Issues
from tests.bot.signin import PUBLIC_URL, sign_in
from tests.bot.test_dashboard_access import SECRET, csrf_of, log_in
from tests.bot.wecom.conftest import wecom_settings
from tests.bot.wecom.fake_qyapi import AUTHORIZE, WEB_LOGIN, FakeQyapi
from tests.conftest import FIXTURES, Database, at, make_settings
from tests.factories import build_ledger, set_password
from tests.materials import DOCX, PDF, send_file

FIRST = "行政执法不作为慢作为乱作为专项整治"
SECOND = "提升行政执法质量三年行动"
REFUSED = "无权查看"


@dataclass(frozen=True)
class Two:
    db: Database
    first: int  # campaign ids
    second: int
    second_unit: int  # 司法局, a unit only the second campaign has
    second_deliverable: int  # 年度行政执法工作计划
    second_material: int  # 周敏's file for it
    first_material: int  # 马强's 裁量基准.docx


def _id(db: Database, model: type, **where: object) -> int:
    with transaction(db.sessions) as session:
        return int(session.scalars(select(model.id).filter_by(**where)).one())  # type: ignore[attr-defined]


@pytest.fixture
def two(plan_loaded: Database, clock: ManualClock) -> Two:
    """The first campaign with its ledger and a file from 马强; then the three-year action beside it, with an issue
    and a file of its own."""
    build_ledger(plan_loaded)
    set_password(plan_loaded)  # yu: 俞建奎 of the first campaign (his row in the second has no login)
    with TestClient(create_app(make_settings(plan_loaded), clock=clock)) as client:
        send_file(client, "MaQiang", "裁量基准.docx", DOCX, text="报送 行政裁量基准")
    with transaction(plan_loaded.sessions) as session:
        result = load_plan(session, read_plan(FIXTURES / "plan_second.yaml"), now=clock.now())
        second = result.campaign
        unit = session.scalars(select(Unit).filter_by(campaign_id=second.id, name="司法局")).one()
        Issues(session).create(
            second,
            unit,
            now=at("2020-07-02 09:00"),
            created_by=None,
            title="执法人员轮训未完成",
            due=at("2020-09-30 00:00").date(),
            focus_area="执法队伍",
            source="专项检查",
            year=2020,
            content="轮训只完成一半",
            measures="补训",
            goal="全员轮训",
            owner="周敏",
            due_text=None,
            remark=None,
        )
    with TestClient(create_app(make_settings(plan_loaded), clock=clock)) as client:
        send_file(client, "ZhouMin", "工作计划.pdf", PDF, text="报送 年度行政执法工作计划")
    first = _id(plan_loaded, Campaign, name=FIRST)
    return Two(
        db=plan_loaded,
        first=first,
        second=second.id,
        second_unit=unit.id,
        second_deliverable=_id(plan_loaded, Deliverable, campaign_id=second.id, name="年度行政执法工作计划"),
        second_material=_id(plan_loaded, Material, campaign_id=second.id),
        first_material=_id(plan_loaded, Material, campaign_id=first),
    )


def password_client(db: Database, clock: ManualClock, **settings: object) -> TestClient:
    return TestClient(create_app(make_settings(db, secret_key=SECRET, **settings), clock=clock), follow_redirects=False)


@pytest.fixture
def yu(two: Two, clock: ManualClock) -> Iterator[TestClient]:
    """俞建奎 signed in with his password: the first campaign's coordinator, and nothing else."""
    with password_client(two.db, clock) as client:
        assert log_in(client).status_code == 303
        yield client


def wecom_client(db: Database, qyapi: FakeQyapi, clock: ManualClock, **overrides: object) -> TestClient:
    settings = wecom_settings(
        db,
        qyapi,
        public_url=PUBLIC_URL,
        secret_key=SECRET,
        wecom_authorize_url=f"{qyapi.url}{AUTHORIZE}",
        wecom_qr_login_url=f"{qyapi.url}{WEB_LOGIN}",
        simulator=False,
        **overrides,
    )
    return TestClient(create_app(settings, clock=clock), follow_redirects=False)


def signed_in_as(client: TestClient, qyapi: FakeQyapi, user: str) -> str:
    """Sign in with WeCom as `user`; where the app sent the browser."""
    qyapi.signed_in_as = user
    done = sign_in(client, "/dashboard/login/wecom")
    assert done.response.status_code == 303, done.response.text
    return str(done.response.headers["location"])


def switcher(page: str) -> list[str]:
    """The campaigns the header's switcher offers, as shown."""
    found = re.search(r'data-testid="campaign-switcher">(.*?)</details>', page, re.S)
    if found is None:
        return []
    return [re.sub(r"<[^>]+>", "", item).split()[0] for item in re.findall(r"<li>(.*?)</li>", found.group(1), re.S)]


def test_one_campaign_looks_as_it_did(plan_loaded: Database, clock: ManualClock) -> None:
    build_ledger(plan_loaded)
    set_password(plan_loaded)
    with password_client(plan_loaded, clock) as client:
        log_in(client)
        overview = client.get("/dashboard").text
        ledger = client.get("/dashboard/issues").text
        assert [c["name"] for c in client.get("/api/campaigns").json()] == [FIRST]
    assert "切换专项整治" not in overview and switcher(overview) == []
    assert 'href="/dashboard/issues"' in overview and "campaign=" not in overview + ledger
    assert 'href="/dashboard/issues/2"' in ledger


def test_a_coordinator_of_one_campaign_cannot_open_the_other(yu: TestClient, two: Two) -> None:
    assert switcher(yu.get("/dashboard").text) == []
    assert [c["name"] for c in yu.get("/api/campaigns").json()] == [FIRST]
    other = f"campaign={two.second}"
    for path in (
        "/dashboard",
        "/dashboard/units",
        "/dashboard/issues",
        "/dashboard/issues/1",
        f"/dashboard/units/{two.second_unit}",
        "/dashboard/weekly",
        "/dashboard/registrations",
        "/dashboard/notices",
        "/dashboard/reminders",
        "/dashboard/exports",
        "/dashboard/export/issues.xlsx",
        "/dashboard/export/contacts.xlsx",
        "/dashboard/export/bulletin.docx",
        "/dashboard/materials",
        f"/dashboard/materials/{two.second_deliverable}",
        f"/dashboard/materials/{two.second_deliverable}/zip",
        f"/dashboard/files/{two.second_material}",
        "/dashboard/import",
        "/api/summary",
        "/api/units",
        "/api/issues",
        "/api/issues/1",
    ):
        response = yu.get(f"{path}?{other}")
        assert response.status_code == 403, path
        assert REFUSED in response.text, path
    # Nor does a form posted with the other campaign's id do anything there.
    csrf = csrf_of(yu.get("/dashboard/import").text)
    posted = yu.post(f"/dashboard/registrations/1/approve?{other}", data={"csrf": csrf})
    assert posted.status_code == 403


def test_the_other_campaigns_things_are_not_found_in_ones_own(yu: TestClient, two: Two) -> None:
    # Its unit, deliverable and file by id, in the campaign this login opens: no such thing here.
    assert yu.get(f"/dashboard/units/{two.second_unit}").status_code == 404
    assert yu.get(f"/dashboard/materials/{two.second_deliverable}").status_code == 404
    assert yu.get(f"/dashboard/materials/{two.second_deliverable}/zip").status_code == 404
    assert yu.get(f"/dashboard/files/{two.second_material}").status_code == 404
    assert yu.get("/dashboard/export/issues.xlsx", params={"unit": two.second_unit}).status_code == 404
    # Its one issue is #1 there; here #1 is the first campaign's own.
    assert "执法证件未按期年检" in yu.get("/dashboard/issues/1").text
    assert yu.get(f"/dashboard/files/{two.first_material}").status_code == 200


@pytest.mark.parametrize("given", ["999999", "abc", "0", "99999999999999999999"])
def test_an_unknown_campaign_is_not_found(yu: TestClient, given: str) -> None:
    page = yu.get(f"/dashboard?campaign={given}")
    assert page.status_code == 404 and "没有这个专项整治" in page.text
    assert yu.get(f"/dashboard/issues?campaign={given}").status_code == 404


def test_a_coordinator_of_both_switches_between_them(two: Two, qyapi: FakeQyapi, clock: ManualClock) -> None:
    with wecom_client(two.db, qyapi, clock) as client:
        assert signed_in_as(client, qyapi, "YuJianKui") == "/dashboard"
        overview = client.get("/dashboard").text
        # The newest is shown first; the switcher offers both, each on the same page.
        assert f'<span class="campaign">{SECOND}</span>' in overview
        assert switcher(overview) == [FIRST, SECOND + "（三年行动）"]
        assert f'href="/dashboard/issues?campaign={two.second}"' in overview  # links keep to the campaign shown
        assert f'href="/dashboard?campaign={two.first}"' in overview
        ledger = client.get(f"/dashboard/issues?campaign={two.second}").text
        assert "执法人员轮训未完成" in ledger and "案卷不规范" not in ledger
        assert f'href="/dashboard/issues?campaign={two.first}"' in ledger  # the switcher keeps the page

        first = client.get(f"/dashboard/issues?campaign={two.first}").text
        assert "案卷不规范" in first and "执法人员轮训未完成" not in first
        assert f'<input type="hidden" name="campaign" value="{two.first}">' in first  # the filter form keeps it
        # Remembered for this browser: a link without the campaign (a chat reply's) shows the one chosen last.
        assert "案卷不规范" in client.get("/dashboard/issues").text
        assert client.get("/api/summary").json()["campaign"] == FIRST

        summary = client.get("/api/summary", params={"campaign": two.second}).json()
        assert summary["campaign"] == SECOND and summary["totals"]["logged"] == 1
        listed = client.get("/api/campaigns").json()
        assert [(c["name"], c["alias"], c["role"], c["current"]) for c in listed] == [
            (FIRST, None, "协调人", True),
            (SECOND, "三年行动", "协调人", False),
        ]
        workbook = client.get("/dashboard/export/issues.xlsx", params={"campaign": two.second})
        assert workbook.status_code == 200 and SECOND in unquote(workbook.headers["content-disposition"])
        rows = [r for r in load_workbook(io.BytesIO(workbook.content)).worksheets[0].iter_rows(values_only=True)]
        assert any("执法人员轮训未完成" in str(r) for r in rows) and not any("案卷不规范" in str(r) for r in rows)
        materials = client.get(f"/dashboard/materials/{two.second_deliverable}?campaign={two.second}").text
        assert "工作计划.pdf" in materials and "周敏" in materials
        zipped = client.get(f"/dashboard/materials/{two.second_deliverable}/zip?campaign={two.second}")
        assert zipped.status_code == 200 and zipped.headers["content-type"] == "application/zip"
        download = client.get(f"/dashboard/files/{two.second_material}?campaign={two.second}")
        assert download.status_code == 200 and download.content == PDF


def test_a_coordinator_of_only_the_second_sees_only_it(two: Two, qyapi: FakeQyapi, clock: ManualClock) -> None:
    with wecom_client(two.db, qyapi, clock) as client:
        signed_in_as(client, qyapi, "YangFan")
        overview = client.get("/dashboard")
        assert overview.status_code == 200 and SECOND in overview.text and switcher(overview.text) == []
        assert "campaign=" not in overview.text
        refused = client.get(f"/dashboard?campaign={two.first}")
        assert refused.status_code == 403 and REFUSED in refused.text
        assert client.get(f"/dashboard/files/{two.first_material}?campaign={two.first}").status_code == 403
        assert client.get(f"/dashboard/files/{two.first_material}").status_code == 404
        assert client.get("/api/summary", params={"campaign": two.first}).status_code == 403


def test_a_liaison_in_both_sees_their_own_unit_in_each(two: Two, qyapi: FakeQyapi, clock: ManualClock) -> None:
    with transaction(two.db.sessions) as session:  # 马强: 执法监察支队's liaison in the first, 公安分局's in the second
        contact = session.scalars(select(Contact).filter_by(campaign_id=two.second, name="马强")).one()
        assert contact.status is ContactStatus.ACTIVE
        first_unit = _id_in(session, two.first, "执法监察支队")
        office = _id_in(session, two.first, "办公室")
        second_unit = _id_in(session, two.second, "公安分局")
    with wecom_client(two.db, qyapi, clock) as client:
        home = signed_in_as(client, qyapi, "MaQiang")
        assert home == f"/dashboard/units/{second_unit}?campaign={two.second}"
        page = client.get(home).text
        assert "公安分局" in page and switcher(page) == [FIRST, SECOND + "（三年行动）"]
        assert f'href="/dashboard/units/{first_unit}?campaign={two.first}"' in page
        assert "执法监察支队" in client.get(f"/dashboard/units/{first_unit}?campaign={two.first}").text
        assert client.get(f"/dashboard/units/{office}?campaign={two.first}").status_code == 403
        assert client.get(f"/dashboard/units/{first_unit}?campaign={two.second}").status_code == 403
        assert client.get(f"/dashboard/issues?campaign={two.first}").status_code == 403  # coordinators' page


def _id_in(session: object, campaign_id: int, unit: str) -> int:
    return int(session.scalars(select(Unit.id).filter_by(campaign_id=campaign_id, name=unit)).one())  # type: ignore[attr-defined]


def test_duban_campaign_serves_only_that_one(two: Two, qyapi: FakeQyapi, clock: ManualClock) -> None:
    with wecom_client(two.db, qyapi, clock, campaign=FIRST) as client:
        signed_in_as(client, qyapi, "YuJianKui")
        overview = client.get("/dashboard").text
        assert FIRST in overview and switcher(overview) == [] and "campaign=" not in overview
        refused = client.get(f"/dashboard?campaign={two.second}")
        assert refused.status_code == 404 and "不由本系统提供" in refused.text
    with wecom_client(two.db, qyapi, clock, campaign=SECOND) as client:
        qyapi.signed_in_as = "WangFang"  # a liaison of the first campaign only
        assert sign_in(client, "/dashboard/login/wecom").response.status_code == 403
    with password_client(two.db, clock, campaign=SECOND) as client:
        refused_login = log_in(client)  # yu's login belongs to the first campaign, not served here
        assert refused_login.status_code == 401  # type: ignore[attr-defined]


def test_an_archived_campaign_is_no_longer_offered(two: Two, qyapi: FakeQyapi, clock: ManualClock) -> None:
    with transaction(two.db.sessions) as session:
        session.get(Campaign, two.second).archived = True  # type: ignore[union-attr]
    with wecom_client(two.db, qyapi, clock) as client:
        signed_in_as(client, qyapi, "YuJianKui")
        assert switcher(client.get("/dashboard").text) == []
        assert client.get(f"/dashboard?campaign={two.second}").status_code == 404


CHILD = """
campaign:
  name: 法制科专项整治自查
  alias: 法制科自查
  start: 2020-06-10
  end: 2020-10-31
  parent: {campaign: 行政执法不作为慢作为乱作为专项整治, unit: 法制科}
units:
  - {name: 一股}
  - {name: 二股}
coordinators:
  - {name: 陆和建, wecom_userid: LuHeJian}
"""


def test_a_parent_campaigns_coordinator_looks_into_its_child_read_only(two: Two, yu: TestClient) -> None:
    with transaction(two.db.sessions) as session:
        child = load_plan(session, parse_plan(CHILD, "child"), now=at("2020-07-01 09:00")).campaign.id
    page = yu.get(f"/dashboard?campaign={child}")
    assert page.status_code == 200 and "法制科专项整治自查" in page.text
    assert "只能查看" in page.text and switcher(page.text) == [FIRST, "法制科专项整治自查（法制科自查）"]
    assert "上级协调人（只读）" in page.text
    assert yu.get(f"/dashboard/export/issues.xlsx?campaign={child}").status_code == 200
    csrf = csrf_of(page.text)
    refused = yu.post(f"/dashboard/registrations/1/approve?campaign={child}", data={"csrf": csrf})
    assert refused.status_code == 403 and "只能查看" in refused.text
    assert yu.get(f"/dashboard?campaign={two.second}").status_code == 403  # not a child of his


def test_loading_a_second_plan_makes_a_second_campaign_and_says_so(yu: TestClient, two: Two) -> None:
    text = (FIXTURES / "plan_second.yaml").read_text(encoding="utf-8")
    third = text.replace("name: 提升行政执法质量三年行动", "name: 第三个专项整治").replace(
        "alias: 三年行动", "alias: 第三个"
    )
    csrf = csrf_of(yu.get("/dashboard/plan").text)
    checked = yu.post("/dashboard/plan/load", data={"csrf": csrf, "plan": third, "action": "check"})
    assert "另建一个专项整治" in checked.text and "不会替换" in checked.text
    loaded = yu.post("/dashboard/plan/load", data={"csrf": csrf, "plan": third, "action": "load"})
    assert loaded.status_code == 200 and "已创建：第三个专项整治" in loaded.text
    assert "并行，没有替换它们" in loaded.text and f"「{FIRST}」" in loaded.text
    assert "您现在的登录看不到它" in loaded.text  # a password login belongs to its own campaign
    with transaction(two.db.sessions) as session:
        assert session.scalar(select(func.count()).select_from(Campaign)) == 3
        assert session.scalar(select(func.count()).select_from(Coordinator).filter_by(campaign_id=two.first)) == 1


def test_only_a_campaigns_coordinators_may_reload_its_plan(yu: TestClient, two: Two) -> None:
    text = (FIXTURES / "plan_second.yaml").read_text(encoding="utf-8").replace("- {name: 大河乡", "- {name: 新庄集乡")
    csrf = csrf_of(yu.get("/dashboard/plan").text)
    refused = yu.post("/dashboard/plan/load", data={"csrf": csrf, "plan": text, "action": "load"})
    assert refused.status_code == 403 and "您不是它的协调人" in refused.text
    with transaction(two.db.sessions) as session:
        assert session.scalars(select(Unit).filter_by(name="新庄集乡")).first() is None
