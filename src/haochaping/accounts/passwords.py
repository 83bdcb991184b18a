"""Password hashing (argon2id, argon2-cffi), the password policy, initial passwords."""

from __future__ import annotations

import secrets
from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from haochaping.errors import DomainError

MIN_LENGTH = 10
MAX_LENGTH = 128
INITIAL_LENGTH = 14
# No 0/O, 1/l/I: an initial password is read off a screen or a sheet of paper.
READABLE = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"

# argon2id with the library's defaults (RFC 9106 "second recommended" parameters).
_hasher = PasswordHasher()


class WeakPassword(DomainError):
    status_code = 422

    def __init__(self, message: str) -> None:
        super().__init__("weak_password", message)


def hash_password(password: str) -> str:
    """The argon2id hash of ``password`` (salted; encodes its own parameters)."""
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """Whether ``password`` matches; a malformed or foreign hash never matches."""
    try:
        return _hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """Whether the hash was made with other parameters than today's (rehash at next login)."""
    try:
        return _hasher.check_needs_rehash(password_hash)
    except (InvalidHashError, ValueError):
        return True


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return hash_password(secrets.token_urlsafe(16))


def burn_verification(password: str) -> None:
    """Spend as long as a real verification, so that an unknown user name cannot be told apart
    from a wrong password by the time the answer takes."""
    verify_password(_dummy_hash(), password)


def check_password_strength(password: str, username: str) -> None:
    """The policy: 10 to 128 characters, letters and digits, not containing the user name."""
    if len(password) < MIN_LENGTH:
        raise WeakPassword(f"密码长度不能少于{MIN_LENGTH}位")
    if len(password) > MAX_LENGTH:
        raise WeakPassword(f"密码长度不能超过{MAX_LENGTH}位")
    if not any(c.isascii() and c.isalpha() for c in password) or not any(
        c.isdigit() for c in password
    ):
        raise WeakPassword("密码须同时包含字母和数字")
    if username and username.lower() in password.lower():
        raise WeakPassword("密码不能包含用户名")
    if "\x00" in password:
        raise WeakPassword("密码中不能包含空字符")


def generate_initial_password() -> str:
    """A random initial password of 14 readable characters that passes the policy."""
    while True:
        candidate = "".join(secrets.choice(READABLE) for _ in range(INITIAL_LENGTH))
        if any(c.isalpha() for c in candidate) and any(c.isdigit() for c in candidate):
            return candidate
