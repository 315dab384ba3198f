"""Walking a browser through a platform sign-in: the app sends it to the platform's page (a fake on loopback), the
platform sends it back with a code, the app's callback answers. The app runs under TestClient at
http://testserver, which is also its DUBAN_PUBLIC_URL and the domain the fakes trust."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

import httpx
from fastapi.testclient import TestClient
from sqlalchemy import select

from storage.db import transaction
from storage.models import DashboardSession
from tests.conftest import Database

PUBLIC_URL = "http://testserver"
IN_WECOM = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 wxwork/4.1.22 MicroMessenger"


@dataclass
class SignIn:
    authorize: httpx.URL  # where the app sent the browser
    callback: str  # where the platform sent it back (path and query, on the app)
    response: httpx.Response  # the app's answer to that


def query_of(url: str | httpx.URL) -> dict[str, str]:
    return {key: values[0] for key, values in parse_qs(urlsplit(str(url)).query).items()}


def leave_for_platform(client: TestClient, start: str, **headers: str) -> httpx.URL:
    """GET the app's sign-in address; the platform page it redirects to."""
    response = client.get(start, headers=headers)
    assert response.status_code == 302, response.text
    return httpx.URL(response.headers["location"])


def come_back(authorize: httpx.URL) -> str:
    """What the platform's page does for a signed-in user: the address on the app it sends the browser back to."""
    answer = httpx.get(authorize, follow_redirects=False)
    assert answer.status_code == 302, answer.text
    back = httpx.URL(answer.headers["location"])
    assert f"{back.scheme}://{back.host}" == PUBLIC_URL
    return f"{back.path}?{back.query.decode()}"


def sessions_of(db: Database) -> list[tuple[str | None, str | None]]:
    """The dashboard sessions open now, by the platform user each came from ((None, None) for a password)."""
    with transaction(db.sessions) as session:
        return [(s.platform, s.external_id) for s in session.scalars(select(DashboardSession))]


def sign_in(client: TestClient, start: str, **headers: str) -> SignIn:
    authorize = leave_for_platform(client, start, **headers)
    callback = come_back(authorize)
    return SignIn(authorize, callback, client.get(callback))
