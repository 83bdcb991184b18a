"""SM4-GCM encryption of raters' personal data and its keyed blind index (C9).

C9: the rater's information is confidential and the rating is real-name, so name, ID number
and phone are stored only as ciphertext, ``sm4gcm:{kid}:{base64url(nonce + ciphertext + tag)}``.
The key id lets keys rotate; the GCM tag (which also authenticates the ``sm4gcm:{kid}`` prefix)
makes any change to a stored value fail loudly instead of decrypting to something else.

Lookups (every case of one phone, for revisits and fraud checks) never compare clear values:
they compare ``blind_index(kind, value)``, an HMAC-SM3 under a key of its own.
"""

from __future__ import annotations

import base64
import binascii
import os
import re

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, hmac
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from sqlalchemy import String
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

from haochaping.pii.keyring import Keyring, KeyringError, current

PREFIX = "sm4gcm:"
NONCE_BYTES = 12
TAG_BYTES = 16
# Room for 200 Chinese characters (600 UTF-8 bytes) once encrypted and base64-encoded.
CIPHERTEXT_LENGTH = 1024


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _aad(kid: str) -> bytes:
    return f"{PREFIX}{kid}".encode("ascii")


def encrypt(text: str, keyring: Keyring | None = None) -> str:
    """Encrypt under the active key: ``sm4gcm:{kid}:{base64url(nonce + ciphertext + tag)}``."""
    ring = keyring or current()
    kid = ring.active_kid
    nonce = os.urandom(NONCE_BYTES)
    encryptor = Cipher(algorithms.SM4(ring.active_key), modes.GCM(nonce)).encryptor()
    encryptor.authenticate_additional_data(_aad(kid))
    body = encryptor.update(text.encode("utf-8")) + encryptor.finalize()
    return f"{PREFIX}{kid}:{_b64encode(nonce + body + encryptor.tag)}"


def _invalid_ciphertext() -> KeyringError:
    return KeyringError(
        "pii_ciphertext_invalid",
        "个人信息密文校验失败，数据可能已被篡改或与密钥不匹配",
    )


def decrypt(value: str, keyring: Keyring | None = None) -> str:
    """The clear text of ``value``, with the key its key id names.

    A value without the ``sm4gcm:`` prefix is clear text written before encryption existed
    (legacy): it is returned as it is, and ``haochaping keys rotate`` encrypts it."""
    if not value.startswith(PREFIX):
        return value
    kid, sep, payload = value[len(PREFIX) :].partition(":")
    if not sep:
        raise _invalid_ciphertext()
    ring = keyring or current()
    key = ring.keys.get(kid)
    if key is None:
        raise KeyringError(
            "pii_key_unknown",
            f"个人信息密文所用的密钥（{kid}）不在密钥文件中，无法解密，请核对密钥文件",
            details={"kid": kid},
        )
    try:
        raw = _b64decode(payload)
    except (binascii.Error, ValueError) as exc:
        raise _invalid_ciphertext() from exc
    if len(raw) < NONCE_BYTES + TAG_BYTES:
        raise _invalid_ciphertext()
    nonce, body, tag = raw[:NONCE_BYTES], raw[NONCE_BYTES:-TAG_BYTES], raw[-TAG_BYTES:]
    decryptor = Cipher(algorithms.SM4(key), modes.GCM(nonce, tag)).decryptor()
    decryptor.authenticate_additional_data(_aad(kid))
    try:
        clear = decryptor.update(body) + decryptor.finalize()
        return clear.decode("utf-8")
    except (InvalidTag, UnicodeDecodeError) as exc:
        raise _invalid_ciphertext() from exc


def key_id_of(value: str) -> str | None:
    """The key id a stored value is encrypted under; ``None`` for legacy clear text."""
    if not value.startswith(PREFIX):
        return None
    kid, sep, _ = value[len(PREFIX) :].partition(":")
    return kid if sep else None


class EncryptedText(TypeDecorator[str]):
    """A string column whose database value is always SM4-GCM ciphertext (C9).

    Python code, ORM and Core alike, reads and writes clear values. Comparing such a column
    with a value in SQL is meaningless (each encryption differs): look up by blind index."""

    impl = String(CIPHERTEXT_LENGTH)
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        if value is None:
            return None
        return encrypt(value)

    def process_result_value(self, value: str | None, dialect: Dialect) -> str | None:
        if value is None:
            return None
        return decrypt(value)


_NON_DIGITS = re.compile(r"\D")


def normalize(kind: str, value: str) -> str:
    """The form a value is indexed under: phones as their 11 digits (``+86``/``86`` dropped),
    ID numbers upper-case (a final ``x`` is an ``X``), anything else stripped."""
    value = value.strip()
    if kind == "phone":
        digits = _NON_DIGITS.sub("", value)
        if len(digits) == 13 and digits.startswith("86"):
            digits = digits[2:]
        return digits
    if kind == "id":
        return value.upper()
    return value


def blind_index(kind: str, value: str, keyring: Keyring | None = None) -> str:
    """HMAC-SM3 (hex) of ``kind:normalized value`` under the keyring's index key: equal values
    give equal indexes, and nobody without the key can tell which value an index is of."""
    ring = keyring or current()
    mac = hmac.HMAC(ring.index_key, hashes.SM3())
    mac.update(f"{kind}:{normalize(kind, value)}".encode())
    return mac.finalize().hex()
