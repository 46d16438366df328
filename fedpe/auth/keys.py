"""API keys: `fpk_<prefix>_<secret>`; the prefix is stored in clear to find the row."""

from __future__ import annotations

import re
import secrets

KEY_PREFIX = "fpk_"
_KEY = re.compile(r"^fpk_(?P<prefix>[0-9a-f]{12})_(?P<secret>[A-Za-z0-9_-]{20,128})$")


def new_key() -> tuple[str, str, str]:
    """(full key, prefix, secret) of a fresh random key."""
    prefix = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    return f"{KEY_PREFIX}{prefix}_{secret}", prefix, secret


def split_key(key: str) -> tuple[str, str] | None:
    """(prefix, secret) of a well-formed key, None for anything else."""
    match = _KEY.match(key or "")
    return (match["prefix"], match["secret"]) if match else None


def looks_like_key(credential: str) -> bool:
    return (credential or "").startswith(KEY_PREFIX)
