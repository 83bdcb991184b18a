"""Settings, read from ``HCP_*`` environment variables (pydantic-settings)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HCP_", env_file=".env", extra="ignore")

    # SQLite file in the working directory is the embedded default; PostgreSQL in production:
    # postgresql+psycopg://user@host/db
    database_url: str = "sqlite:///haochaping.db"
    # Extra directory searched for policy profiles before the packaged ones.
    policy_dir: Path | None = None
    # Seconds between two sweeps of due deadlines inside `haochaping serve`; 0 disables.
    tick_interval: float = 30.0
    # Connections per process for PostgreSQL; requests beyond it wait for a free one.
    pool_size: int = 20
    echo_sql: bool = False


@lru_cache
def get_settings() -> Settings:
    return Settings()
