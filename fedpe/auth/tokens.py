"""Access tokens: HS256 JWTs that expire, signed with a secret kept in ``FEDPE_HOME`` (0600)."""

from __future__ import annotations

import datetime as dt
import os
import secrets
from pathlib import Path

import jwt

from fedpe.errors import AuthenticationError

SECRET_FILE = "api-jwt.secret"
ALGORITHM = "HS256"
DEFAULT_TTL_S = 3600


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


def issue_token(home: str | os.PathLike, user: str, *, ttl_s: int = DEFAULT_TTL_S,
                now: dt.datetime | None = None) -> tuple[str, int]:
    """(token, seconds it lives) for `user`."""
    issued = now or dt.datetime.now(dt.timezone.utc)
    claims = {"sub": user, "iat": issued, "exp": issued + dt.timedelta(seconds=ttl_s), "typ": "access"}
    return jwt.encode(claims, _secret(home), algorithm=ALGORITHM), ttl_s


def read_token(home: str | os.PathLike, token: str) -> str:
    """The user name a valid, unexpired token was issued to; AuthenticationError otherwise."""
    try:
        claims = jwt.decode(token, _secret(home), algorithms=[ALGORITHM], options={"require": ["sub", "exp"]})
    except jwt.ExpiredSignatureError:
        raise AuthenticationError("access token expired: request a new one at POST /api/v1/token") from None
    except jwt.PyJWTError:
        raise AuthenticationError("invalid access token or API key") from None
    if claims.get("typ") != "access" or not isinstance(claims.get("sub"), str):
        raise AuthenticationError("invalid access token or API key")
    return claims["sub"]
