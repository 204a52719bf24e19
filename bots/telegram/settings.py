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
    data_dir: Path = Field(default=Path("data/store"), description="the data dir (the API's BILIM_DATA_DIR)")
    telegram_state: Path | None = Field(
        default=None, description="languages, conversations (default: telegram-state.pickle in the data dir)"
    )
    telegram_questions_per_minute: int = Field(default=6, ge=1, description="per Telegram user")
    telegram_user_salt: SecretStr | None = Field(default=None, description="salt of hashed user ids")

    @property
    def state_file(self) -> Path:
        """Where the bot keeps its state: never inside the checkout unless asked (the data dir is ignored by git)."""
        return self.telegram_state or self.data_dir / "telegram-state.pickle"


def get_bot_settings() -> BotSettings:
    """Read the bot's settings from the environment."""
    return BotSettings()  # type: ignore[call-arg]  # the token comes from the environment
