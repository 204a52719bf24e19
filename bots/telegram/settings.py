"""The bot's settings, from BILIM_* environment variables (read through `get_bot_settings()`)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class BotSettings(BaseSettings):
    """Where the bot finds Telegram and the Bilim API, and how it behaves."""

    model_config = SettingsConfigDict(env_prefix="BILIM_", extra="ignore")

    telegram_token: SecretStr = Field(description="the token BotFather gave")
    api_url: str = Field(default="http://127.0.0.1:8000", description="the Bilim API")
    api_key: SecretStr | None = Field(default=None, description="one of the API's BILIM_API_KEYS")
    api_timeout: float = Field(default=20.0, gt=0, description="seconds to wait for an answer before 'try again'")
    telegram_api_url: str = Field(
        default="https://api.telegram.org/bot", description="Bot API base URL; the token is appended"
    )
    telegram_webhook_url: str | None = Field(default=None, description="public HTTPS URL: webhook mode")
    telegram_webhook_secret: SecretStr | None = Field(default=None, description="checked on every webhook call")
    telegram_webhook_listen: str = Field(default="0.0.0.0", description="webhook server address")
    telegram_webhook_port: int = Field(default=8443, description="webhook server port")
    telegram_state: Path = Field(default=Path("data/telegram-state.pickle"), description="languages, conversations")
    telegram_questions_per_minute: int = Field(default=6, ge=1, description="per Telegram user")
    telegram_user_salt: SecretStr | None = Field(default=None, description="salt of hashed user ids")


def get_bot_settings() -> BotSettings:
    """Read the bot's settings from the environment."""
    return BotSettings()  # type: ignore[call-arg]  # the token comes from the environment
