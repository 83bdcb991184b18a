"""Issue 3: argon2id hashes, the password policy, initial passwords."""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher

from haochaping.accounts.passwords import (
    INITIAL_LENGTH,
    READABLE,
    check_password_strength,
    generate_initial_password,
    hash_password,
    needs_rehash,
    verify_password,
)
from haochaping.errors import DomainError


def test_hash_is_argon2id_salted_and_verifies() -> None:
    first = hash_password("Correct horse 42")
    second = hash_password("Correct horse 42")
    assert first.startswith("$argon2id$")
    assert first != second  # a fresh salt each time
    assert verify_password(first, "Correct horse 42")
    assert not verify_password(first, "Correct horse 43")
    assert not needs_rehash(first)


def test_malformed_or_foreign_hash_never_matches() -> None:
    assert not verify_password("", "anything1234")
    assert not verify_password("plain-text-password", "plain-text-password")
    assert not verify_password("$argon2id$v=19$broken", "x")
    assert needs_rehash("not a hash")


def test_hash_with_old_parameters_needs_rehash() -> None:
    weak = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1).hash("Abcdefgh1234")
    assert verify_password(weak, "Abcdefgh1234")
    assert needs_rehash(weak)


@pytest.mark.parametrize(
    ("password", "fragment"),
    [
        ("Ab1", "不能少于10位"),
        ("abcdefghijk", "字母和数字"),
        ("12345678901", "字母和数字"),
        ("长密码长密码长密码长密码1", "字母和数字"),
        ("xx-zhangsan-2026", "不能包含用户名"),
        ("XX-ZHANGSAN-2026", "不能包含用户名"),
        ("a1" * 65, "不能超过128位"),
    ],
)
def test_weak_passwords_are_refused_in_chinese(password: str, fragment: str) -> None:
    with pytest.raises(DomainError) as info:
        check_password_strength(password, "zhangsan")
    assert info.value.code == "weak_password"
    assert fragment in info.value.message


def test_a_good_password_passes() -> None:
    check_password_strength("Rongan-2026-ok", "zhangsan")


def test_initial_passwords_are_readable_random_and_pass_the_policy() -> None:
    seen = {generate_initial_password() for _ in range(200)}
    assert len(seen) == 200
    for password in seen:
        assert len(password) == INITIAL_LENGTH
        assert set(password) <= set(READABLE)
        assert not set(password) & set("0O1lI")
        check_password_strength(password, "zhangsan")
