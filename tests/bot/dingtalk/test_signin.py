"""Signing in to the dashboard with DingTalk, against the fake DingTalk on loopback: the sign-in page for browsers
(authCode → user token → contact/users/me → getbyunionid) and the in-app 免登 code (topapi/v2/user/getuserinfo);
a coordinator gets the dashboard, a liaison their own unit, anyone else a page that says why; a code signs in once
and a state only the browser and the flow it was issued for."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from bot.app import create_app
from core.clock import ManualClock
from storage.db import transaction
from tests.bot.dingtalk.conftest import COORDINATOR_STAFF, MA_STAFF, DingTalkChat, dingtalk_settings
from tests.bot.dingtalk.fake_dingtalk import (
    AUTHORIZE,
    BY_UNIONID,
    INAPP_USERINFO,
    ME,
    OUTSIDER,
    USER_TOKEN,
    FakeDingTalk,
)
from tests.bot.signin import PUBLIC_URL, come_back, leave_for_platform, query_of, sessions_of, sign_in
from tests.conftest import Database
from tests.factories import build_ledger, unit_named

CORP_ID = "ding0123456789abcdef"
IN_DINGTALK = "Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 Chrome/120 Mobile Safari/537.36 DingTalk/7.6.0"


def signin_app(db: Database, fake: FakeDingTalk, clock: ManualClock, **overrides: object) -> TestClient:
    values: dict[str, object] = {
        "public_url": PUBLIC_URL,
        "secret_key": "signin-test",
        "dingtalk_corp_id": CORP_ID,
        "dingtalk_authorize_url": f"{fake.base_url}{AUTHORIZE}",
    }
    settings = dingtalk_settings(db, fake, **(values | overrides))
    return TestClient(create_app(settings, clock=clock), follow_redirects=False)


@pytest.fixture
def app_client(dingtalk_people: Database, fake_dingtalk: FakeDingTalk, clock: ManualClock) -> Iterator[TestClient]:
    build_ledger(dingtalk_people)
    with signin_app(dingtalk_people, fake_dingtalk, clock) as client:
        yield client


def inapp_state(client: TestClient, next_url: str = "/dashboard") -> str:
    """Open the workbench entry inside DingTalk; the state the page hands its script."""
    page = client.get(f"/dashboard/login/dingtalk/inapp?next={next_url}", headers={"User-Agent": IN_DINGTALK})
    assert page.status_code == 200 and 'data-corp-id="ding0123456789abcdef"' in page.text
    match = re.search(r'data-state="([^"]+)"', page.text)
    assert match
    return match.group(1)


def test_a_coordinator_signs_in_on_dingtalks_page(
    app_client: TestClient, fake_dingtalk: FakeDingTalk, dingtalk_people: Database
) -> None:
    fake_dingtalk.signed_in_as = COORDINATOR_STAFF
    done = sign_in(app_client, "/dashboard/login/dingtalk?next=/dashboard/weekly")

    assert done.authorize.path == AUTHORIZE
    assert query_of(done.authorize) | {"state": "…"} == {
        "client_id": FakeDingTalk.APP_KEY,
        "redirect_uri": f"{PUBLIC_URL}/dashboard/login/dingtalk/callback",
        "response_type": "code",
        "scope": "openid",
        "prompt": "consent",
        "state": "…",
    }
    assert "authCode=" in done.callback
    assert done.response.status_code == 303 and done.response.headers["location"] == "/dashboard/weekly"
    assert "俞建奎" in app_client.get("/dashboard/weekly").text
    token_call = fake_dingtalk.calls(USER_TOKEN)[0].body
    assert token_call["code"] == query_of(done.callback)["authCode"] and token_call["grantType"] == "authorization_code"
    assert len(fake_dingtalk.calls(ME)) == 1
    assert fake_dingtalk.calls(BY_UNIONID)[0].body == {"unionid": f"union-{COORDINATOR_STAFF}"}
    assert sessions_of(dingtalk_people) == [("dingtalk", COORDINATOR_STAFF)]


def test_inside_dingtalk_the_workbench_signs_in_without_a_tap(
    app_client: TestClient, fake_dingtalk: FakeDingTalk, dingtalk_people: Database
) -> None:
    with transaction(dingtalk_people.sessions) as session:
        own = unit_named(session, "执法监察支队").id
    state = inapp_state(app_client)
    code = fake_dingtalk.inapp_code(MA_STAFF)  # what requestAuthCode gives the page in 马强's DingTalk
    landed = app_client.get(f"/dashboard/login/dingtalk/inapp/callback?code={code}&state={state}")

    assert landed.status_code == 303 and landed.headers["location"] == f"/dashboard/units/{own}"
    assert "辅助人员单独执法" in app_client.get(f"/dashboard/units/{own}").text
    assert fake_dingtalk.calls(INAPP_USERINFO)[0].body == {"code": code}
    assert fake_dingtalk.calls(USER_TOKEN) == []
    assert sessions_of(dingtalk_people) == [("dingtalk", MA_STAFF)]


def test_without_the_corp_id_the_workbench_goes_to_the_sign_in_page(
    dingtalk_people: Database, fake_dingtalk: FakeDingTalk, clock: ManualClock
) -> None:
    with signin_app(dingtalk_people, fake_dingtalk, clock, dingtalk_corp_id=None) as client:
        answer = client.get("/dashboard/login/dingtalk/inapp?next=/dashboard/weekly")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/dashboard/login/dingtalk?next=%2Fdashboard%2Fweekly"


@pytest.mark.parametrize(
    ("user", "says"),
    [
        ("0999999999", "钉钉账号（0999999999）不是「行政执法不作为慢作为乱作为专项整治」的牵头部门协调人"),
        (f"{OUTSIDER}someone", "不是本组织的成员"),
    ],
    ids=["member-not-in-plan", "not-in-organisation"],
)
def test_anyone_else_gets_a_page_saying_why(
    app_client: TestClient, fake_dingtalk: FakeDingTalk, dingtalk_people: Database, user: str, says: str
) -> None:
    fake_dingtalk.signed_in_as = user
    done = sign_in(app_client, "/dashboard/login/dingtalk")
    assert done.response.status_code == 403 and says in done.response.text
    assert sessions_of(dingtalk_people) == []


def test_codes_sign_in_once(app_client: TestClient, fake_dingtalk: FakeDingTalk, dingtalk_people: Database) -> None:
    fake_dingtalk.signed_in_as = COORDINATOR_STAFF
    back = come_back(leave_for_platform(app_client, "/dashboard/login/dingtalk"))
    copied = dict(app_client.cookies)
    assert app_client.get(back).status_code == 303
    app_client.cookies.clear()
    for name, value in copied.items():
        app_client.cookies.set(name, value)
    replayed = app_client.get(back)
    assert replayed.status_code == 400 and "这个登录链接已经用过了" in replayed.text
    assert len(fake_dingtalk.calls(USER_TOKEN)) == 1

    app_client.cookies.clear()
    state = inapp_state(app_client)
    code = fake_dingtalk.inapp_code(COORDINATOR_STAFF)
    inapp = f"/dashboard/login/dingtalk/inapp/callback?code={code}&state={state}"
    copied = dict(app_client.cookies)
    assert app_client.get(inapp).status_code == 303
    for name, value in copied.items():
        app_client.cookies.set(name, value)
    assert app_client.get(inapp).status_code == 400
    assert len(fake_dingtalk.calls(INAPP_USERINFO)) == 1


def test_a_state_finishes_only_the_flow_and_browser_it_was_issued_for(
    app_client: TestClient, fake_dingtalk: FakeDingTalk, dingtalk_people: Database
) -> None:
    fake_dingtalk.signed_in_as = COORDINATOR_STAFF
    back = come_back(leave_for_platform(app_client, "/dashboard/login/dingtalk"))
    code, state = query_of(back)["authCode"], query_of(back)["state"]
    # the sign-in page's state presented with a 免登 code: another flow
    assert app_client.get(f"/dashboard/login/dingtalk/inapp/callback?code={code}&state={state}").status_code == 400
    assert app_client.get(back.replace(state, "forged")).status_code == 400
    assert TestClient(app_client.app, follow_redirects=False).get(back).status_code == 400  # another browser
    assert fake_dingtalk.calls(USER_TOKEN) == [] and fake_dingtalk.calls(INAPP_USERINFO) == []
    assert sessions_of(dingtalk_people) == []


def test_the_way_back_is_the_public_url_whatever_the_request_says(app_client: TestClient) -> None:
    authorize = leave_for_platform(
        app_client,
        "/dashboard/login/dingtalk?redirect_uri=https://evil.example/",
        Host="evil.example",
        **{"X-Forwarded-Host": "evil.example"},
    )
    assert query_of(authorize)["redirect_uri"] == f"{PUBLIC_URL}/dashboard/login/dingtalk/callback"


def test_dingtalk_refusing_the_code_is_said_plainly(app_client: TestClient, fake_dingtalk: FakeDingTalk) -> None:
    fake_dingtalk.signed_in_as = COORDINATOR_STAFF
    fake_dingtalk.script(USER_TOKEN, {"code": "invalidAuthCode", "message": "不合法的临时授权码"}, status=400)
    done = sign_in(app_client, "/dashboard/login/dingtalk")
    assert done.response.status_code == 502 and "钉钉没有确认您的身份" in done.response.text


def test_a_liaisons_link_opens_their_unit_signed_in_inside_dingtalk(
    app_client: TestClient, fake_dingtalk: FakeDingTalk, clock: ManualClock, dingtalk_people: Database
) -> None:
    with transaction(dingtalk_people.sessions) as session:
        own = unit_named(session, "执法监察支队").id
    reply = DingTalkChat(app_client, clock).send(MA_STAFF, "我的问题")
    link = f"{PUBLIC_URL}/dashboard/login/dingtalk/inapp?next=%2Fdashboard%2Funits%2F{own}"
    assert reply.endswith(f"本单位详情：{link}") and "辅助人员单独执法" in reply

    state = inapp_state(app_client, link.split("next=")[1])  # 马强 taps it in DingTalk
    code = fake_dingtalk.inapp_code(MA_STAFF)
    landed = app_client.get(f"/dashboard/login/dingtalk/inapp/callback?code={code}&state={state}")
    assert landed.headers["location"] == f"/dashboard/units/{own}"
    assert "辅助人员单独执法" in app_client.get(landed.headers["location"]).text
