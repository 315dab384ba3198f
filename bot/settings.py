"""All configuration: environment variables with prefix DUBAN_ (and a .env file), SPEC §7."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DUBAN_", env_file=".env", env_file_encoding="utf-8",
                                      extra="ignore")

    database_url: str = "sqlite:///var/duban.db"
    campaign: str | None = Field(default=None, description="serve this campaign (name); default: the newest")
    scheduler: Literal["on", "off"] = "on"
    host: str = "127.0.0.1"
    port: int = 8000
    log_level: str = "INFO"
    log_format: Literal["json", "console"] = Field(
        default="json", description="json: one JSON object per line (for log collectors); console: for a terminal")
    max_body_bytes: int = 1024 * 1024
    callback_max_skew: int | None = Field(
        default=None, description="seconds; default 300 for WeCom and 3600 for DingTalk")
    simulator: bool = Field(default=True, description="serve /sim (the simulator channel)")
    reminder_grace: int = Field(default=3600, ge=0, description="seconds; after downtime, older reminders are "
                                                                "recorded as missed instead of sent")
    ready_outbox_max_age: int = Field(
        default=900, ge=0, description="seconds; /readyz fails when a due outbox message has waited longer (0: off)")
    secret_key: SecretStr | None = Field(
        default=None, description="signs dashboard sessions; set it so logins survive restarts and work across "
                                  "replicas (without it each process makes its own)")

    wecom_corp_id: str | None = None
    wecom_agent_id: int | None = None
    wecom_secret: SecretStr | None = None
    wecom_token: SecretStr | None = None
    wecom_aes_key: SecretStr | None = None
    wecom_api_base: str = "https://qyapi.weixin.qq.com"
    wecom_reply_budget: float = Field(
        default=3.5, gt=0, lt=5, description="seconds to answer a callback in; later replies go as app messages")

    wecom_bot_id: str | None = Field(default=None, description="智能机器人 BotID (long connection)")
    wecom_bot_secret: SecretStr | None = None
    wecom_bot_ws_url: str = Field(default="wss://openws.work.weixin.qq.com",
                                  description="where the 智能机器人 long connection goes (a proxy, a test server)")

    dingtalk_app_key: str | None = None
    dingtalk_app_secret: SecretStr | None = None
    dingtalk_api_base: str = "https://oapi.dingtalk.com"
    dingtalk_mode: Literal["http", "stream"] = "http"
    dingtalk_agent_id: int | None = Field(default=None, description="AgentId of the app, for work notifications")
    dingtalk_stream_api_base: str = Field(default="https://api.dingtalk.com",
                                          description="where Stream mode opens its connection (new-style OpenAPI)")
    dingtalk_reply_budget: float = Field(default=2.0, gt=0, description=(
        "seconds a callback waits for its reply to go in the response body; slower replies go out later"))

    @property
    def wecom_enabled(self) -> bool:
        return bool(self.wecom_corp_id and self.wecom_secret and self.wecom_token and self.wecom_aes_key)

    @property
    def wecom_robot_enabled(self) -> bool:
        return bool(self.wecom_bot_id and self.wecom_bot_secret)

    @property
    def dingtalk_enabled(self) -> bool:
        return bool(self.dingtalk_app_key and self.dingtalk_app_secret)


def get_settings() -> Settings:
    """Read the environment (and .env) now; the CLI and the app each call this once at start."""
    return Settings()
