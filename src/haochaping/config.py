"""Settings, read from ``HCP_*`` environment variables (pydantic-settings)."""

from __future__ import annotations

import ipaddress
import json
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any

from pydantic import field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


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
    # Key file of the SM4 keys that encrypt raters' personal data (C9), created by
    # `haochaping keys init` (or `haochaping demo`); keep it out of version control, back it up.
    key_file: Path = Path("haochaping-keys.json")
    # Console cookies carry the Secure flag (sent over HTTPS only). HCP_COOKIE_SECURE=false
    # only for plain-HTTP trials on another host than 127.0.0.1/localhost.
    cookie_secure: bool = True
    # Abuse protection (haochaping.protection). Where rate-limit counters live: "memory://" is
    # per process; "redis://127.0.0.1:6379" lets all workers share them.
    rate_limit_storage: str = "memory://"
    # Off only for load tests and local experiments: every RateLimit dependency then does nothing.
    rate_limits_enabled: bool = True
    # Reverse proxies whose X-Forwarded-For / X-Forwarded-Proto are believed: addresses or CIDR
    # blocks, as a JSON list or comma-separated (HCP_TRUSTED_PROXIES=10.0.0.0/8,127.0.0.1).
    trusted_proxies: Annotated[list[str], NoDecode] = ["127.0.0.1", "::1"]
    # Largest request body accepted, in bytes; larger ones get 413 payload_too_large.
    max_body_bytes: int = 8 * 1_048_576
    # SMS gateway (C5, D1, D4): where queued texts are posted, the account, and the shared key
    # that signs our requests and the gateway's callbacks (replies, delivery reports). Without
    # a URL texts stay queued. `haochaping sms fake-gateway` runs a local one for trials.
    sms_gateway_url: str | None = None
    sms_account: str = ""
    sms_signing_key: str = ""
    # Texts sent per committed batch by the sweeper and `haochaping sms send`.
    sms_batch_size: int = 100
    # Public address of this service, put before the links in texts (https://pj.example.gov.cn).
    public_base_url: str = "http://127.0.0.1:8000"
    # Self-service terminals (D3) go back to their home page after a rating: the only origins
    # (scheme://host[:port]) the rating page may send a browser back to, as a JSON list or
    # comma-separated (HCP_TERMINAL_RETURN_ORIGINS=https://kiosk.example.gov.cn). Empty: none.
    terminal_return_origins: Annotated[list[str], NoDecode] = []

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _split_proxies(cls, value: Any) -> Any:
        if isinstance(value, str):
            text = value.strip()
            value = json.loads(text) if text.startswith("[") else text.split(",")
        if isinstance(value, list | tuple):
            entries = [str(v).strip() for v in value if str(v).strip()]
            for entry in entries:
                ipaddress.ip_network(entry, strict=False)  # ValueError names the bad entry
            return entries
        return value

    @field_validator("terminal_return_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: Any) -> Any:
        if isinstance(value, str):
            text = value.strip()
            value = json.loads(text) if text.startswith("[") else text.split(",")
        if isinstance(value, list | tuple):
            return [str(v).strip().rstrip("/").lower() for v in value if str(v).strip()]
        return value


@lru_cache
def get_settings() -> Settings:
    return Settings()
