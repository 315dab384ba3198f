"""Dashboard sign-in with WeCom: where the browser goes to be authorised, and whose code came back.

Two ways in, one code (deploy/wecom.md has the documents):
- inside WeCom (the workbench, a link in a message) the OAuth2 web authorisation, `snsapi_base`: silent, no tap;
- in a desktop browser WeCom's web login, a QR code the phone scans.
Both come back to the same redirect URI with `code` and `state`; cgi-bin/auth/getuserinfo turns the code (good once,
for five minutes) into the member's userid, with the app's access token.
"""

from __future__ import annotations

from urllib.parse import urlencode

from bot.settings import Settings
from bot.wecom.client import WeComApi

GETUSERINFO = "/cgi-bin/auth/getuserinfo"


def in_wecom(user_agent: str) -> bool:
    """WeCom's own browser (phone and desktop client) says wxwork in its User-Agent."""
    return "wxwork" in user_agent.lower()


def authorize_url(settings: Settings, *, redirect_uri: str, state: str, inside_wecom: bool) -> str:
    """The page that authorises this browser and sends it back to `redirect_uri` with a code."""
    assert settings.wecom_corp_id and settings.wecom_agent_id is not None
    if inside_wecom:
        query = {
            "appid": settings.wecom_corp_id,
            "redirect_uri": redirect_uri,
            "response_type": "code",
            "scope": "snsapi_base",
            "state": state,
            "agentid": str(settings.wecom_agent_id),
        }
        # WeCom's client reads the fragment to know it should attach the member's identity.
        return f"{settings.wecom_authorize_url}?{urlencode(query)}#wechat_redirect"
    query = {
        "login_type": "CorpApp",
        "appid": settings.wecom_corp_id,
        "agentid": str(settings.wecom_agent_id),
        "redirect_uri": redirect_uri,
        "state": state,
    }
    return f"{settings.wecom_qr_login_url}?{urlencode(query)}"


async def user_id(api: WeComApi, code: str) -> str | None:
    """The member behind a sign-in code; None for someone WeCom knows but who is not a member (an openid).

    Raises WeComError for a refused code (40029: wrong, used or expired) or an unreachable WeCom."""
    body = await api.call(GETUSERINFO, method="GET", params={"code": code})
    found = body.get("userid") or body.get("UserId")  # the older user/getuserinfo spelled it UserId
    return str(found) if found else None
