"""All configuration: environment variables with prefix DUBAN_ (and a .env file); README: 配置 lists them."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from core.channels import Platform


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DUBAN_", env_file=".env", env_file_encoding="utf-8", extra="ignore")

    database_url: str = "sqlite:///var/duban.db"
    campaign: str | None = Field(
        default=None, description="serve only this campaign (name); default: every campaign not archived"
    )
    scheduler: Literal["on", "off"] = "on"
    host: str = "127.0.0.1"
    port: int = 8000
    forwarded_allow_ips: str = Field(
        default="127.0.0.1",
        description=(
            "the reverse proxy's addresses (comma-separated IPs or networks): X-Forwarded-For and -Proto are believed "
            "only on connections from them, and the client is the nearest address in X-Forwarded-For not among them"
        ),
    )
    log_level: str = "INFO"
    log_format: Literal["json", "console"] = Field(
        default="json", description="json: one JSON object per line (for log collectors); console: for a terminal"
    )
    max_body_bytes: int = 1024 * 1024
    http_keep_alive: int = Field(
        default=75,
        ge=1,
        description=(
            "seconds `duban serve` keeps an idle HTTP connection open: longer than the proxy in front keeps one "
            "(deploy/nginx: 60 s), so that the proxy closes idle connections first and never sends a request on "
            "one this server is closing at that moment (such a request gets no answer at all)"
        ),
    )
    callback_max_skew: int | None = Field(
        default=None, description="seconds; default 300 for WeCom and 3600 for DingTalk"
    )
    simulator: bool | None = Field(
        default=None,
        description=(
            "serve /sim (the simulator channel): on, off, or unset for on only where no platform is configured; "
            "on beside a configured platform it answers only a coordinator logged in to the dashboard"
        ),
    )
    reminder_grace: int = Field(
        default=3600,
        ge=0,
        description="seconds; after downtime, older reminders are recorded as missed instead of sent",
    )
    ready_outbox_max_age: int = Field(
        default=900, ge=0, description="seconds; /readyz fails when a due outbox message has waited longer (0: off)"
    )
    backup_dir: Path | None = Field(
        default=None,
        description=(
            "where deploy/backup.sh writes its dumps; /metrics then tells when the newest was written, for alerts"
        ),
    )
    file_store: Literal["local", "database"] = Field(
        default="local",
        description=(
            "where files sent in chat are kept: local (files_dir) or database (every replica sees them, pg_dump "
            "backs them up)"
        ),
    )
    files_dir: Path = Field(default=Path("var/files"), description="the local file store's directory")
    secret_key: SecretStr | None = Field(
        default=None,
        description="signs dashboard sessions; set it so logins survive restarts and work across "
        "replicas (without it each process makes its own)",
    )
    public_url: str | None = Field(
        default=None,
        description=(
            "the address people open the dashboard at (https://duban.example.gov.cn): WeCom and DingTalk send sign-ins "
            "back to <public_url>/dashboard/login/<platform>/callback, and links in chat messages start with it"
        ),
    )
    dashboard_passwords: bool = Field(
        default=True,
        description=(
            "off: no password sign-in to the dashboard (deployments where everyone signs in with WeCom or DingTalk)"
        ),
    )

    wecom_corp_id: str | None = None
    wecom_agent_id: int | None = None
    wecom_secret: SecretStr | None = None
    wecom_token: SecretStr | None = None
    wecom_aes_key: SecretStr | None = None
    wecom_api_base: str = "https://qyapi.weixin.qq.com"
    wecom_authorize_url: str = Field(
        default="https://open.weixin.qq.com/connect/oauth2/authorize",
        description="web authorisation inside WeCom (网页授权登录)",
    )
    wecom_qr_login_url: str = Field(
        default="https://login.work.weixin.qq.com/wwlogin/sso/login",
        description="WeCom's web login (QR code) for browsers outside WeCom",
    )
    wecom_reply_budget: float = Field(
        default=3.5, gt=0, lt=5, description="seconds to answer a callback in; later replies go as app messages"
    )

    wecom_bot_id: str | None = Field(default=None, description="智能机器人 BotID (long connection)")
    wecom_bot_secret: SecretStr | None = None
    wecom_bot_ws_url: str = Field(
        default="wss://openws.work.weixin.qq.com",
        description="where the 智能机器人 long connection goes (a proxy, a test server)",
    )

    dingtalk_app_key: str | None = None
    dingtalk_app_secret: SecretStr | None = None
    dingtalk_api_base: str = "https://oapi.dingtalk.com"
    dingtalk_mode: Literal["http", "stream"] = "http"
    dingtalk_agent_id: int | None = Field(default=None, description="AgentId of the app, for work notifications")
    dingtalk_stream_api_base: str = Field(
        default="https://api.dingtalk.com",
        description=(
            "the new-style OpenAPI: where Stream mode opens its connection and dashboard sign-ins get the user's token"
        ),
    )
    dingtalk_corp_id: str | None = Field(
        default=None,
        description=(
            "the organisation's CorpId, for signing in without a tap inside DingTalk (免登, JSAPI requestAuthCode)"
        ),
    )
    dingtalk_authorize_url: str = Field(
        default="https://login.dingtalk.com/oauth2/auth",
        description="DingTalk's sign-in page for browsers (登录第三方网站)",
    )
    dingtalk_reply_budget: float = Field(
        default=2.0,
        gt=0,
        description=("seconds a callback waits for its reply to go in the response body; slower replies go out later"),
    )

    @field_validator("forwarded_allow_ips")
    @classmethod
    def _only_proxy_addresses(cls, value: str) -> str:
        """'*' would let any client write its own address into X-Forwarded-For (and rotate it past the login limit,
        or lock a victim's address out); a name would silently match nothing."""
        for entry in (part.strip() for part in value.split(",")):
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError:
                raise ValueError(
                    f"DUBAN_FORWARDED_ALLOW_IPS 只能写反向代理（nginx）的 IP 地址或网段，不能是「{entry}」"
                ) from None
        return value

    @field_validator("public_url")
    @classmethod
    def _public_url(cls, value: str | None) -> str | None:
        """Sign-ins come back here, so it is an absolute http(s) address with nothing after the path."""
        if not value:
            return None
        parts = urlsplit(value.strip())
        if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
            raise ValueError(
                f"DUBAN_PUBLIC_URL 应是督办网页的完整地址，如 https://duban.example.gov.cn，不能是「{value}」"
            )
        return value.strip().rstrip("/")

    @property
    def wecom_enabled(self) -> bool:
        return bool(self.wecom_corp_id and self.wecom_secret and self.wecom_token and self.wecom_aes_key)

    @property
    def wecom_robot_enabled(self) -> bool:
        return bool(self.wecom_bot_id and self.wecom_bot_secret)

    @property
    def dingtalk_enabled(self) -> bool:
        return bool(self.dingtalk_app_key and self.dingtalk_app_secret)

    @property
    def sign_in_platforms(self) -> tuple[str, ...]:
        """The platforms people sign in to the dashboard with: those whose app is configured, once DUBAN_PUBLIC_URL
        says where the sign-ins come back to (WeCom: corp id, agent id and secret; DingTalk: key and secret)."""
        if self.public_url is None:
            return ()
        ready: dict[str, bool] = {
            Platform.WECOM: bool(self.wecom_corp_id and self.wecom_agent_id is not None and self.wecom_secret),
            Platform.DINGTALK: bool(self.dingtalk_app_key and self.dingtalk_app_secret),
        }
        return tuple(platform for platform, configured in ready.items() if configured)

    @property
    def simulator_on(self) -> bool:
        """The simulator speaks as any user: a development and demo tool, on by itself only without a platform."""
        if self.simulator is not None:
            return self.simulator
        return not (self.wecom_enabled or self.dingtalk_enabled)

    @property
    def simulator_needs_login(self) -> bool:
        """Switched on beside a real platform, where its users are real people."""
        return self.simulator_on and (self.wecom_enabled or self.dingtalk_enabled)


def get_settings() -> Settings:
    """Read the environment (and .env) now; the CLI and the app each call this once at start."""
    return Settings()
