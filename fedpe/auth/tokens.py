"""Access tokens: HS256 JWTs that expire, signed with a secret kept in `FEDPE_HOME` (0600).

`iat` keeps its fraction of a second (RFC 7519 allows it): `UserStore.active` compares it with
the moment a user was revoked or given a new key, which may fall in the same second.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import os
import secrets
from pathlib import Path
from typing import NamedTuple

import jwt

from fedpe.errors import AuthenticationError

SECRET_FILE = "api-jwt.secret"
ALGORITHM = "HS256"
DEFAULT_TTL_S = 3600


class TokenClaims(NamedTuple):
    """Who an access token was issued to, and when."""

    user: str
    issued_at: dt.datetime


def _secret(home: str | os.PathLike) -> bytes:
    """The signing secret, generated once (exclusive create, mode 0600) and read after."""
    path = Path(home) / SECRET_FILE
    try:
        return path.read_bytes().strip()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except FileExistsError:  # another process won the race
        return path.read_bytes().strip()
    with os.fdopen(fd, "wb") as fh:
        fh.write(secrets.token_hex(32).encode())
    return path.read_bytes().strip()


def derived_key(home: str | os.PathLike, purpose: str) -> bytes:
    """A signing key for `purpose` (the dashboard's cookies) derived from the one secret: nothing
    new to keep, and what one purpose signs never passes for another's (or for a token)."""
    return hmac.new(_secret(home), f"fedpe:{purpose}".encode(), hashlib.sha256).digest()


def issue_token(home: str | os.PathLike, user: str, *, ttl_s: int = DEFAULT_TTL_S,
                now: dt.datetime | None = None) -> tuple[str, int]:
    """(token, seconds it lives) for `user`."""
    issued = now or dt.datetime.now(dt.timezone.utc)
    claims = {"sub": user, "iat": issued.timestamp(), "exp": issued + dt.timedelta(seconds=ttl_s), "typ": "access"}
    return jwt.encode(claims, _secret(home), algorithm=ALGORITHM), ttl_s


def read_token(home: str | os.PathLike, token: str) -> TokenClaims:
    """Whom and when a valid, unexpired token was issued to; AuthenticationError otherwise."""
    try:
        claims = jwt.decode(token, _secret(home), algorithms=[ALGORITHM],
                            options={"require": ["sub", "exp", "iat"]})
    except jwt.ExpiredSignatureError:
        raise AuthenticationError("access token expired: request a new one at POST /api/v1/token") from None
    except jwt.PyJWTError:
        raise AuthenticationError("invalid access token or API key") from None
    if claims.get("typ") != "access" or not isinstance(claims.get("sub"), str):
        raise AuthenticationError("invalid access token or API key")
    return TokenClaims(claims["sub"], dt.datetime.fromtimestamp(float(claims["iat"]), dt.timezone.utc))
