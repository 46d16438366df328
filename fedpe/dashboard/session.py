"""The dashboard's sign-in session and its CSRF tokens.

A session is a row in the API database (`dashboard_sessions`: the sha256 of its id, the user,
when it started, when it expires, when it was ended) and a cookie `fedpe_session` =
`<id>.<expiry>.<signature>`, signed with a key derived from the API's signing secret
(`fedpe.auth.tokens.derived_key`), HttpOnly, SameSite=Strict, Secure over https, gone at its expiry.
Signing out ends the row, so a copied cookie stops working too; revoking the user or giving them a
new key ends every session of theirs (`UserStore.active`, as for access tokens).

CSRF: every state-changing request carries a token, in the `X-CSRF-Token` header (htmx sends
it from the page's `hx-headers`) or the `csrf_token` form field. Signed in, the token is an
HMAC of the session id; on the sign-in form, an HMAC of a nonce kept in a short-lived cookie
`fedpe_login` (so a foreign site cannot sign a browser in to its own account either).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import os
import secrets
import time
from dataclasses import dataclass

from fedpe.auth.db import connect
from fedpe.auth.tokens import derived_key

COOKIE = "fedpe_session"
LOGIN_COOKIE = "fedpe_login"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
LOGIN_TTL_S = 3600

_SCHEMA = """
CREATE TABLE IF NOT EXISTS dashboard_sessions (
    sid_sha256 TEXT PRIMARY KEY,
    user_name TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    ended_at TEXT
)
"""
_ready: set[str] = set()


@dataclass(frozen=True)
class Session:
    """A signed-in browser: who, since when, until when."""

    sid: str
    user: str
    created_at: dt.datetime
    expires_at: dt.datetime


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


class Sessions:
    """Sessions of one FEDPE_HOME, `ttl_s` long."""

    def __init__(self, home: str | os.PathLike, ttl_s: int):
        self.home = home
        self.ttl_s = ttl_s
        self._key = derived_key(home, "dashboard-cookies")

    # signing -------------------------------------------------------------------------------

    def _sign(self, *parts: str) -> str:
        return _b64(hmac.new(self._key, ".".join(parts).encode(), hashlib.sha256).digest())

    def _signed(self, value: str, expires: int) -> str:
        return f"{value}.{expires}.{self._sign(value, str(expires))}"

    def _unsigned(self, cookie: str | None) -> tuple[str, int] | None:
        """(value, expiry) of a cookie this dashboard signed and that has not expired; None otherwise."""
        try:
            value, expires, signature = (cookie or "").split(".")
            expiry = int(expires)
        except ValueError:
            return None
        if not hmac.compare_digest(signature, self._sign(value, expires)) or expiry <= time.time():
            return None
        return value, expiry

    # sessions --------------------------------------------------------------------------------

    def _db(self):
        if str(self.home) not in _ready:
            with connect(self.home) as db:
                db.execute(_SCHEMA)
            _ready.add(str(self.home))
        return connect(self.home)

    def start(self, user: str) -> tuple[str, Session]:
        """A new session for `user`: (cookie value, session)."""
        sid = secrets.token_urlsafe(32)
        now = dt.datetime.now(dt.timezone.utc)
        expires = now + dt.timedelta(seconds=self.ttl_s)
        with self._db() as db:
            db.execute("DELETE FROM dashboard_sessions WHERE expires_at < ?", (now.isoformat(),))
            db.execute("INSERT INTO dashboard_sessions (sid_sha256, user_name, created_at, expires_at) "
                       "VALUES (?, ?, ?, ?)", (_sha256(sid), user, now.isoformat(), expires.isoformat()))
        return self._signed(sid, int(expires.timestamp())), Session(sid, user, now, expires)

    def read(self, cookie: str | None) -> Session | None:
        """The live session a cookie stands for: signed here, not expired, not ended."""
        unsigned = self._unsigned(cookie)
        if unsigned is None:
            return None
        sid, _ = unsigned
        with self._db() as db:
            row = db.execute("SELECT * FROM dashboard_sessions WHERE sid_sha256 = ?", (_sha256(sid),)).fetchone()
        if row is None or row["ended_at"] is not None:
            return None
        expires = dt.datetime.fromisoformat(row["expires_at"])
        if expires <= dt.datetime.now(dt.timezone.utc):
            return None
        return Session(sid, row["user_name"], dt.datetime.fromisoformat(row["created_at"]), expires)

    def end(self, session: Session) -> None:
        with self._db() as db:
            db.execute("UPDATE dashboard_sessions SET ended_at = ? WHERE sid_sha256 = ?",
                       (dt.datetime.now(dt.timezone.utc).isoformat(), _sha256(session.sid)))

    # CSRF ----------------------------------------------------------------------------------------

    def csrf_token(self, session: Session) -> str:
        return self._sign("csrf", session.sid)

    def csrf_ok(self, session: Session, token: str | None) -> bool:
        return bool(token) and hmac.compare_digest(token, self.csrf_token(session))

    def login_nonce(self) -> tuple[str, str]:
        """(cookie value, CSRF token) for a sign-in form."""
        nonce = secrets.token_urlsafe(16)
        return self._signed(nonce, int(time.time()) + LOGIN_TTL_S), self._sign("login", nonce)

    def login_csrf_ok(self, cookie: str | None, token: str | None) -> bool:
        unsigned = self._unsigned(cookie)
        return bool(unsigned and token) and hmac.compare_digest(token, self._sign("login", unsigned[0]))
