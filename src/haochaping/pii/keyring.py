"""The keys that protect raters' personal data (C9: the rater's information is confidential).

A key file (JSON, hex keys, mode 0600) holds the SM4 keys by key id, which of them encrypts new
values (the active one) and the key of the blind index. Old keys stay in the file so values
written under them remain readable until ``haochaping keys rotate`` has re-encrypted them.

    {"format": "haochaping-keyring/1", "active": "k2",
     "keys": {"k1": "<32 hex>", "k2": "<32 hex>"}, "index_key": "<64 hex>"}

The blind-index key is never rotated by ``keys rotate``: changing it would invalidate every
lookup by phone or ID number at once.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from haochaping.config import get_settings
from haochaping.errors import DomainError

FORMAT = "haochaping-keyring/1"
KEY_BYTES = 16  # SM4
INDEX_KEY_BYTES = 32  # HMAC-SM3
# A key id is written into every ciphertext ("sm4gcm:{kid}:..."): no colon, no LIKE wildcard.
KID_PATTERN = re.compile(r"^[A-Za-z0-9-]{1,32}$")


class KeyringError(DomainError):
    """The keys are missing, unreadable or do not fit the data: a deployment problem, so the
    API answers it as a server error (with the Chinese message), the CLI as a refusal."""

    status_code = 500


@dataclass(frozen=True)
class Keyring:
    """SM4 keys by key id, the active key id, and the blind-index key."""

    active_kid: str
    keys: dict[str, bytes]
    index_key: bytes = field(repr=False)

    def __post_init__(self) -> None:
        for kid, key in self.keys.items():
            if not KID_PATTERN.match(kid):
                raise ValueError(f"invalid key id {kid!r}")
            if len(key) != KEY_BYTES:
                raise ValueError(f"key {kid!r} must be {KEY_BYTES} bytes")
        if self.active_kid not in self.keys:
            raise ValueError(f"active key {self.active_kid!r} is not in the keyring")
        if len(self.index_key) != INDEX_KEY_BYTES:
            raise ValueError(f"index key must be {INDEX_KEY_BYTES} bytes")

    def __repr__(self) -> str:  # never print key material
        return f"Keyring(active_kid={self.active_kid!r}, kids={sorted(self.keys)!r})"

    @property
    def active_key(self) -> bytes:
        return self.keys[self.active_kid]

    def with_new_key(self) -> Keyring:
        """The same keyring plus a fresh key, which becomes the active one."""
        kid = _next_kid(self.keys)
        return Keyring(
            active_kid=kid,
            keys={**self.keys, kid: secrets.token_bytes(KEY_BYTES)},
            index_key=self.index_key,
        )


def new_keyring(kid: str = "k1") -> Keyring:
    """A keyring with one random key and a random blind-index key."""
    return Keyring(
        active_kid=kid,
        keys={kid: secrets.token_bytes(KEY_BYTES)},
        index_key=secrets.token_bytes(INDEX_KEY_BYTES),
    )


def _next_kid(keys: dict[str, bytes]) -> str:
    numbers = [int(k[1:]) for k in keys if re.fullmatch(r"k\d+", k)]
    return f"k{max(numbers, default=0) + 1}"


# --------------------------------------------------------------------------- the key file


def _missing(path: Path) -> KeyringError:
    return KeyringError(
        "key_file_missing",
        f"未找到个人信息加密密钥文件（{path}），请先运行 haochaping keys init",
        details={"path": str(path)},
    )


def _invalid(path: Path, reason: str) -> KeyringError:
    return KeyringError(
        "key_file_invalid",
        f"个人信息加密密钥文件（{path}）内容不正确：{reason}，请核对或从备份恢复",
        details={"path": str(path)},
    )


def load_keyring(path: Path) -> Keyring:
    """Read a key file; a missing or malformed file is refused with a Chinese message."""
    try:
        raw = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise _missing(path) from exc
    except OSError as exc:
        raise _invalid(path, "无法读取文件") from exc
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise _invalid(path, "不是有效的 JSON") from exc
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise _invalid(path, "文件格式标识不符")
    try:
        keys = {str(kid): bytes.fromhex(hexkey) for kid, hexkey in data["keys"].items()}
        return Keyring(
            active_kid=str(data["active"]),
            keys=keys,
            index_key=bytes.fromhex(data["index_key"]),
        )
    except (KeyError, TypeError, AttributeError, ValueError) as exc:
        raise _invalid(path, "密钥缺失或长度不符") from exc


def _dump(keyring: Keyring) -> str:
    data: dict[str, Any] = {
        "format": FORMAT,
        "active": keyring.active_kid,
        "keys": {kid: key.hex() for kid, key in keyring.keys.items()},
        "index_key": keyring.index_key.hex(),
    }
    return json.dumps(data, indent=2) + "\n"


def _write_new(path: Path, text: str) -> None:
    """Create ``path`` readable by its owner only; fails if it exists."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())


def save_keyring(path: Path, keyring: Keyring) -> None:
    """Write a new key file for ``keyring`` (mode 0600); an existing file is never replaced."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        _write_new(path, _dump(keyring))
    except FileExistsError as exc:
        raise KeyringError(
            "key_file_exists",
            f"个人信息加密密钥文件已存在（{path}），为防止已加密的数据无法解密，不予覆盖",
            details={"path": str(path)},
        ) from exc


def create_keyring_file(path: Path) -> Keyring:
    """``haochaping keys init``: a new key file with key ``k1``; refuses to overwrite."""
    keyring = new_keyring()
    save_keyring(path, keyring)
    return keyring


def add_key(path: Path) -> str:
    """Add a fresh key to the key file and make it active; old keys are kept. Returns its id.

    The file is replaced atomically (write a sibling, then rename), so a crash leaves either
    the old or the new file, never half of one."""
    keyring = load_keyring(path).with_new_key()
    tmp = path.with_name(path.name + ".tmp")
    tmp.unlink(missing_ok=True)
    _write_new(tmp, _dump(keyring))
    os.replace(tmp, path)
    return keyring.active_kid


# --------------------------------------------------------------------------- process-wide


_configured: Keyring | None = None
# (path, (mtime_ns, size), keyring) of the key file last read by ``current``.
_loaded: tuple[Path, tuple[int, int], Keyring] | None = None
_lock = threading.Lock()


def configure(keyring: Keyring | None) -> Keyring | None:
    """Use ``keyring`` in this process instead of the key file (tests); ``None`` goes back to
    the key file. Returns the keyring configured before."""
    global _configured
    previous, _configured = _configured, keyring
    return previous


def current() -> Keyring:
    """The keyring in use: the configured one, else the key file of the settings.

    The file is checked on every call (one ``stat``) and read again when it changed, so a
    running server picks up the key that ``keys rotate`` adds: it can read values under the
    new key and writes new values under it."""
    global _loaded
    if _configured is not None:
        return _configured
    path = get_settings().key_file
    try:
        st = path.stat()
    except FileNotFoundError as exc:
        raise _missing(path) from exc
    stamp = (st.st_mtime_ns, st.st_size)
    loaded = _loaded
    if loaded is not None and loaded[0] == path and loaded[1] == stamp:
        return loaded[2]
    with _lock:
        keyring = load_keyring(path)
        _loaded = (path, stamp, keyring)
    return keyring
