"""Password hashing with bcrypt, safe for passwords longer than bcrypt's 72 bytes."""
import base64
import hashlib

import bcrypt

from r2w_db import errors

BCRYPT_MAX_BYTES = 72
DEFAULT_ROUNDS = 12


def _check(password):
    if not isinstance(password, str) or not password:
        raise errors.InvalidValue("a password must be a non-empty string")


def _prehash(raw: bytes) -> bytes:
    """base64(SHA-256(raw)): 44 ASCII bytes, under bcrypt's limit."""
    return base64.b64encode(hashlib.sha256(raw).digest())


def _secret(raw: bytes) -> bytes:
    return _prehash(raw) if len(raw) > BCRYPT_MAX_BYTES else raw


def hash_password(password: str, rounds: int = DEFAULT_ROUNDS) -> str:
    """A bcrypt hash (ASCII str); passwords over 72 UTF-8 bytes are pre-hashed with SHA-256."""
    _check(password)
    raw = password.encode("utf-8")
    return bcrypt.hashpw(_secret(raw), bcrypt.gensalt(rounds=rounds)).decode("ascii")


def _checkpw(secret: bytes, hashed: bytes) -> bool:
    try:
        return bcrypt.checkpw(secret, hashed)
    except (ValueError, TypeError):
        return False


def verify_password(password: str, password_hash: str) -> bool:
    """True when password matches; a malformed or empty hash (or empty password) is False.

    Over 72 bytes: the pre-hashed form first, then the first 72 bytes, which is
    what older bcrypt versions silently hashed.
    """
    if not isinstance(password, str) or not password:
        return False
    if isinstance(password_hash, str):
        try:
            hashed = password_hash.encode("ascii")
        except UnicodeEncodeError:
            return False
    elif isinstance(password_hash, bytes):
        hashed = password_hash
    else:
        return False
    if not hashed:
        return False
    raw = password.encode("utf-8")
    if len(raw) <= BCRYPT_MAX_BYTES:
        return _checkpw(raw, hashed)
    return _checkpw(_prehash(raw), hashed) or _checkpw(raw[:BCRYPT_MAX_BYTES], hashed)
