"""Dashboard sign-in with DingTalk: where the browser goes to be authorised, and whose code came back.

Two ways in (deploy/dingtalk.md has the documents):
- in a browser, DingTalk's sign-in page (登录第三方网站, login.dingtalk.com/oauth2/auth, scope openid) sends back an
  authCode; the new-style OpenAPI turns it into the user's token (oauth2/userAccessToken) and the token into the
  user's unionId (contact/users/me); topapi/user/getbyunionid, with the app's token, gives the userid in the
  organisation — the id the plan's `dingtalk_userid` and the robot's senderStaffId use;
- inside DingTalk (the workbench, a link in a message) the page asks the client itself for a code (JSAPI
  runtime.permission.requestAuthCode, no tap: 免登), and topapi/v2/user/getuserinfo gives the userid.
Codes are good once, for five minutes. Old-style calls go to DUBAN_DINGTALK_API_BASE, new-style ones to
DUBAN_DINGTALK_STREAM_API_BASE (api.dingtalk.com, where Stream mode opens its connection too).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import httpx

from bot.dingtalk.clients import TOKEN_REJECTED, AccessTokens, TokenUnavailable, _call, _errcode
from bot.settings import Settings
from scheduler.outbound import SendResult

USER_TOKEN_PATH = "/v1.0/oauth2/userAccessToken"
ME_PATH = "/v1.0/contact/users/me"
BY_UNIONID_PATH = "/topapi/user/getbyunionid"
INAPP_USERINFO_PATH = "/topapi/v2/user/getuserinfo"
NOT_IN_ORGANISATION = 60121  # getbyunionid: 找不到该用户 — a DingTalk account outside this organisation


class SignInFailed(Exception):
    """DingTalk did not say who this is: a refused code, or DingTalk unreachable; the text says which."""


AGENT_MARK = "dingtalk"  # DingTalk's own browser (phone and desktop client) says DingTalk in its User-Agent


def in_dingtalk(user_agent: str) -> bool:
    return AGENT_MARK in user_agent.lower()


def authorize_url(settings: Settings, *, redirect_uri: str, state: str) -> str:
    """DingTalk's sign-in page, which sends the browser back to `redirect_uri` with an authCode."""
    assert settings.dingtalk_app_key
    query = {
        "client_id": settings.dingtalk_app_key,
        "redirect_uri": redirect_uri,
        "response_type": "code",
        "scope": "openid",
        "state": state,
        "prompt": "consent",
    }
    return f"{settings.dingtalk_authorize_url}?{urlencode(query)}"


class DingTalkSignIn:
    def __init__(self, *, settings: Settings, tokens: AccessTokens, http: httpx.AsyncClient) -> None:
        assert settings.dingtalk_app_key and settings.dingtalk_app_secret
        self.client_id = settings.dingtalk_app_key
        self.client_secret = settings.dingtalk_app_secret.get_secret_value()
        self.api_base = settings.dingtalk_api_base.rstrip("/")
        self.openapi_base = settings.dingtalk_stream_api_base.rstrip("/")
        self.tokens = tokens
        self.http = http

    async def user_from_authorization(self, code: str) -> str | None:
        """The userid behind a sign-in page's authCode; None for a DingTalk user outside the organisation."""
        token = await self._new_style(
            "POST",
            USER_TOKEN_PATH,
            json={
                "clientId": self.client_id,
                "clientSecret": self.client_secret,
                "code": code,
                "grantType": "authorization_code",
            },
        )
        access = token.get("accessToken")
        if not isinstance(access, str) or not access:
            raise SignInFailed("钉钉没有返回用户凭证")
        me = await self._new_style("GET", ME_PATH, headers={"x-acs-dingtalk-access-token": access})
        union_id = me.get("unionId")
        if not isinstance(union_id, str) or not union_id:
            raise SignInFailed("钉钉没有返回用户的 unionId")
        answer = await self._old_style(BY_UNIONID_PATH, {"unionid": union_id}, absent=NOT_IN_ORGANISATION)
        return _userid(answer)

    async def user_from_inapp(self, code: str) -> str | None:
        """The userid behind a code the DingTalk client handed the page (免登码)."""
        return _userid(await self._old_style(INAPP_USERINFO_PATH, {"code": code}))

    async def _new_style(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        """A call to api.dingtalk.com, which answers errors with an HTTP status and {"code", "message"}."""
        answer = await _call(self.http, method, f"{self.openapi_base}{path}", **kwargs)
        if isinstance(answer, SendResult):
            raise SignInFailed(f"钉钉接口 {path} 未成功：{answer.detail}")
        if answer.get("code") and answer.get("message"):
            raise SignInFailed(f"钉钉接口 {path} 拒绝：{answer['code']}")
        return answer

    async def _old_style(self, path: str, body: dict[str, str], *, absent: int | None = None) -> dict[str, Any]:
        """A call to oapi.dingtalk.com with the app's token (replaced once if DingTalk refuses it); an answer with
        errcode `absent` means nobody, and comes back as {}."""
        for attempt in (1, 2):
            try:
                token = await self.tokens.get()
            except TokenUnavailable as error:
                raise SignInFailed(f"无法取得钉钉应用凭证：{error.result.detail}") from error
            answer = await _call(self.http, "POST", f"{self.api_base}{path}", params={"access_token": token}, json=body)
            if isinstance(answer, SendResult):
                raise SignInFailed(f"钉钉接口 {path} 未成功：{answer.detail}")
            code = _errcode(answer)
            if code in TOKEN_REJECTED and attempt == 1:
                await self.tokens.reject(token)
                continue
            if code == 0:
                return answer
            if absent is not None and code == absent:
                return {}
            raise SignInFailed(f"钉钉接口 {path} 拒绝：errcode {code} {str(answer.get('errmsg', ''))[:100]}")
        raise AssertionError("unreachable")


def _userid(answer: dict[str, Any]) -> str | None:
    result = answer.get("result")
    found = result.get("userid") if isinstance(result, dict) else None
    return str(found) if found else None
