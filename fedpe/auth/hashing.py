"""argon2 hashing of passwords and API key secrets (pwdlib)."""

from __future__ import annotations

import functools


@functools.lru_cache(maxsize=1)
def _hasher():
    from pwdlib import PasswordHash

    return PasswordHash.recommended()


def hash_secret(secret: str) -> str:
    return _hasher().hash(secret)


def verify_secret(secret: str, hashed: str | None) -> bool:
    """True when `secret` matches `hashed`; never raises on a malformed hash."""
    if not hashed:
        # Spend the same time as a real check so timing does not tell which users exist.
        _hasher().verify(secret, _DUMMY_HASH())
        return False
    try:
        return _hasher().verify(secret, hashed)
    except Exception:
        return False


@functools.lru_cache(maxsize=1)
def _DUMMY_HASH() -> str:  # noqa: N802 - a constant computed once
    return _hasher().hash("fedpe-no-such-user")
