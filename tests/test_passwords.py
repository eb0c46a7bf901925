import bcrypt
import pytest

from r2w_db import errors
from r2w_db.app.passwords import hash_password, verify_password


def h(password):
    return hash_password(password, rounds=4)


def test_hash_is_ascii_bcrypt_and_verifies():
    hashed = h("correct horse")
    assert isinstance(hashed, str)
    assert hashed.isascii()
    assert hashed.startswith("$2b$04$")
    assert len(hashed) == 60
    assert verify_password("correct horse", hashed) is True
    assert verify_password("correct horsf", hashed) is False
    assert verify_password("Correct horse", hashed) is False


def test_default_rounds_is_12(monkeypatch):
    seen = []
    real = bcrypt.gensalt
    monkeypatch.setattr(bcrypt, "gensalt", lambda rounds: seen.append(rounds) or real(rounds=4))
    hash_password("x")
    assert seen == [12]


def test_same_password_gets_different_salts():
    assert h("secret") != h("secret")


def test_short_password_is_plain_bcrypt():
    # up to 72 bytes the hash is ordinary bcrypt, so other bcrypt users can verify it
    password = "p" * 72
    assert bcrypt.checkpw(password.encode(), h(password).encode())


@pytest.mark.parametrize("password", ["a" * 73, "a" * 200, "é" * 40, "🔑" * 19])
def test_long_passwords_hash_and_verify(password):
    assert len(password.encode()) > 72
    hashed = h(password)
    assert verify_password(password, hashed) is True
    assert verify_password(password + "x", hashed) is False
    assert verify_password(password[:-1], hashed) is False


def test_long_passwords_differing_after_72_bytes_are_different():
    first, second = "a" * 72 + "first", "a" * 72 + "second"
    hashed = h(first)
    assert verify_password(first, hashed) is True
    assert verify_password(second, hashed) is False
    assert verify_password("a" * 72, hashed) is False


def test_hash_written_by_older_truncating_bcrypt_still_verifies():
    password = "x" * 50 + "y" * 50
    legacy = bcrypt.hashpw(password.encode()[:72], bcrypt.gensalt(rounds=4)).decode()
    assert verify_password(password, legacy) is True
    assert verify_password("z" * 100, legacy) is False


def test_2a_prefix_hash_verifies():
    legacy = bcrypt.hashpw(b"hello", bcrypt.gensalt(rounds=4, prefix=b"2a")).decode()
    assert legacy.startswith("$2a$")
    assert verify_password("hello", legacy) is True


@pytest.mark.parametrize("bad", ["", "not-a-hash", "$2b$04$short", "$2b$04$" + "a" * 53,
                                 "é" * 60, None, 12345])
def test_malformed_hash_is_false_not_an_exception(bad):
    assert verify_password("password", bad) is False
    assert verify_password("p" * 100, bad) is False


@pytest.mark.parametrize("bad", ["", None, b"bytes"])
def test_empty_or_non_str_password_is_invalid(bad):
    with pytest.raises(errors.InvalidValue):
        hash_password(bad, rounds=4)


def test_verify_empty_password_is_false():
    assert verify_password("", h("something")) is False
