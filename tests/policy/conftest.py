"""Policy tests: a private ``HCP_POLICY_DIR`` per test, and clean caches around it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from haochaping.config import get_settings
from haochaping.policy.loader import clear_cache


@pytest.fixture(autouse=True)
def _fresh_caches() -> Iterator[None]:
    get_settings.cache_clear()
    clear_cache()
    yield
    get_settings.cache_clear()
    clear_cache()


@pytest.fixture
def policy_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty directory searched before the packaged profiles."""
    directory = tmp_path / "policies"
    directory.mkdir()
    monkeypatch.setenv("HCP_POLICY_DIR", str(directory))
    get_settings.cache_clear()
    clear_cache()
    return directory


@pytest.fixture
def write_profile(policy_dir: Path) -> Callable[..., Path]:
    """Write ``<name>.yaml`` into the policy dir; the header (name/title/version) is added."""

    def write(name: str, body: str, *, header: bool = True) -> Path:
        text = f'name: {name}\ntitle: 测试配置 {name}\nversion: "test-1"\n' if header else ""
        path = policy_dir / f"{name}.yaml"
        path.write_text(text + body, encoding="utf-8")
        return path

    return write
