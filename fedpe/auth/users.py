"""Users and their API keys: add, list, revoke, issue a new key, and authenticate by password or key."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import re
import secrets
import threading
import time
from dataclasses import dataclass

from fedpe.auth.db import connect, read
from fedpe.auth.hashing import hash_secret, verify_secret
from fedpe.auth.keys import new_key, split_key
from fedpe.errors import AuthenticationError, Conflict, InvalidArgument, NotFound

USER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
#: A verified key is remembered (by its sha256) this long, so argon2 runs once, not per request.
#: Revocation and rotation are read from the database on every call whatever this says; a
#: minute, as it was, made every client sharing a key wait behind a new check each minute.
KEY_CACHE_S = 3600.0


@dataclass(frozen=True)
class User:
    name: str
    is_admin: bool
    created_at: str
    revoked_at: str | None = None
    has_password: bool = False
    tokens_valid_after: str | None = None
    """Access tokens issued before this moment are refused (set on revoke, re-enable and a new key)."""

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    def may_read(self, owner: str) -> bool:
        """The owner rule: a user reads their own executions and data; admins read everyone's."""
        return self.is_admin or owner == self.name


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat()


def _user(row) -> User:
    return User(name=row["name"], is_admin=bool(row["is_admin"]), created_at=row["created_at"],
                revoked_at=row["revoked_at"], has_password=row["password_hash"] is not None,
                tokens_valid_after=row["tokens_valid_after"])


class UserStore:
    """The users of one FEDPE_HOME."""

    def __init__(self, home: str | os.PathLike):
        self.home = home
        self._verified: dict[str, tuple[str, float]] = {}
        self._verifying: dict[str, threading.Lock] = {}
        self._lock = threading.Lock()

    def add(self, name: str, *, admin: bool = False, password: str | None = None) -> tuple[User, str]:
        """Create `name` (or re-create a revoked one); returns the user and its API key, shown once."""
        if not USER_NAME.match(name or ""):
            raise InvalidArgument("user name: 1-64 letters, digits, '.', '_', '@' or '-', starting with a letter "
                                  "or digit", field="name")
        if password is not None and len(password) < 8:
            raise InvalidArgument("password: at least 8 characters", field="password")
        key, prefix, secret = new_key()
        key_hash = hash_secret(secret)
        password_hash = hash_secret(password) if password is not None else None
        with connect(self.home) as db:
            row = db.execute("SELECT * FROM users WHERE name = ?", (name,)).fetchone()
            if row is not None and row["revoked_at"] is None:
                raise Conflict(f"user {name!r} already exists", field="name")
            now = _now()
            db.execute(
                "INSERT INTO users (name, is_admin, password_hash, created_at, revoked_at, tokens_valid_after) "
                "VALUES (?, ?, ?, ?, NULL, ?) "
                "ON CONFLICT(name) DO UPDATE SET is_admin = excluded.is_admin, password_hash = excluded.password_hash, "
                "created_at = excluded.created_at, revoked_at = NULL, tokens_valid_after = excluded.tokens_valid_after",
                (name, int(admin), password_hash, now, now),
            )
            db.execute("INSERT INTO api_keys (prefix, user_name, key_hash, created_at) VALUES (?, ?, ?, ?)",
                       (prefix, name, key_hash, now))
            user = _user(db.execute("SELECT * FROM users WHERE name = ?", (name,)).fetchone())
        return user, key

    def ensure_first_admin(self, name: str = "admin") -> str | None:
        """On a new FEDPE_HOME (no user at all), make admin `name` with a random password and
        return the password, to be shown once; None when there are users already."""
        if self.list():
            return None
        password = secrets.token_urlsafe(12)
        try:
            self.add(name, admin=True, password=password)
        except Conflict:  # another process made it first
            return None
        return password

    def list(self) -> list[User]:
        with connect(self.home) as db:
            return [_user(r) for r in db.execute("SELECT * FROM users ORDER BY name")]

    def get(self, name: str) -> User | None:
        row = read(self.home, "SELECT * FROM users WHERE name = ?", (name,))
        return _user(row) if row else None

    def revoke(self, name: str) -> User:
        """Revoke a user and every key of theirs; their tokens stop working at once, and for good
        (those issued before now stay refused when the user is enabled again)."""
        with connect(self.home) as db:
            row = db.execute("SELECT * FROM users WHERE name = ?", (name,)).fetchone()
            if row is None:
                raise NotFound(f"no user {name!r}", field="name")
            now = _now()
            db.execute("UPDATE users SET revoked_at = COALESCE(revoked_at, ?), tokens_valid_after = ? WHERE name = ?",
                       (now, now, name))
            db.execute("UPDATE api_keys SET revoked_at = COALESCE(revoked_at, ?) WHERE user_name = ?", (now, name))
            return _user(db.execute("SELECT * FROM users WHERE name = ?", (name,)).fetchone())

    def issue_key(self, name: str) -> tuple[User, str]:
        """A new API key for `name`, shown once: their other keys and access tokens stop working at
        once (`check_key` reads revocation before its cache), and a revoked user is active again."""
        key, prefix, secret = new_key()
        key_hash = hash_secret(secret)
        with connect(self.home) as db:
            if db.execute("SELECT 1 FROM users WHERE name = ?", (name,)).fetchone() is None:
                raise NotFound(f"no user {name!r}", field="name")
            now = _now()
            db.execute("UPDATE api_keys SET revoked_at = COALESCE(revoked_at, ?) WHERE user_name = ?", (now, name))
            db.execute("UPDATE users SET revoked_at = NULL, tokens_valid_after = ? WHERE name = ?", (now, name))
            db.execute("INSERT INTO api_keys (prefix, user_name, key_hash, created_at) VALUES (?, ?, ?, ?)",
                       (prefix, name, key_hash, now))
            user = _user(db.execute("SELECT * FROM users WHERE name = ?", (name,)).fetchone())
        return user, key

    def set_password(self, name: str, password: str) -> User:
        """Set (or replace) `name`'s password; their API keys, tokens and sessions go on working."""
        if len(password or "") < 8:
            raise InvalidArgument("password: at least 8 characters", field="password")
        password_hash = hash_secret(password)
        with connect(self.home) as db:
            if db.execute("SELECT 1 FROM users WHERE name = ?", (name,)).fetchone() is None:
                raise NotFound(f"no user {name!r}", field="name")
            db.execute("UPDATE users SET password_hash = ? WHERE name = ?", (password_hash, name))
            return _user(db.execute("SELECT * FROM users WHERE name = ?", (name,)).fetchone())

    def active(self, name: str, issued_at: dt.datetime | None = None) -> User:
        """The active user `name`; AuthenticationError when unknown or revoked, or when `issued_at`
        (an access token's) is before the user was last revoked or given a new key."""
        user = self.get(name)
        if user is None or not user.active:
            raise AuthenticationError("unknown or revoked user")
        if (issued_at is not None and user.tokens_valid_after is not None
                and issued_at < dt.datetime.fromisoformat(user.tokens_valid_after)):
            raise AuthenticationError("access token issued before the user was revoked or given a new key: "
                                      "request a new one at POST /api/v1/token")
        return user

    def check_password(self, name: str, password: str) -> User:
        with connect(self.home) as db:
            row = db.execute("SELECT * FROM users WHERE name = ?", (name,)).fetchone()
        ok = verify_secret(password, row["password_hash"] if row else None)
        if not ok or row["revoked_at"] is not None:
            raise AuthenticationError("wrong user name or password")
        return _user(row)

    def _verified_lately(self, digest: str, key_hash: str) -> bool:
        """Whether the key of this sha256 passed argon2 against `key_hash` within KEY_CACHE_S."""
        with self._lock:
            cached = self._verified.get(digest)
        return bool(cached and cached[0] == key_hash and cached[1] > time.monotonic())

    def check_key(self, key: str, *, known_only: bool = False) -> User | None:
        """The active owner of API key `key`; AuthenticationError otherwise.

        argon2 costs ~150 ms here, so a verified key is remembered by its sha256 (KEY_CACHE_S);
        revocation is still read from the database on every call. With `known_only`, a key not
        verified lately gives None instead of an argon2 check: an event loop may call it, and
        runs the full check elsewhere only then.
        """
        parts = split_key(key)
        if parts is None:
            raise AuthenticationError("invalid access token or API key")
        prefix, secret = parts
        row = read(self.home, "SELECT k.key_hash, k.revoked_at AS key_revoked, u.* FROM api_keys k "
                              "JOIN users u ON u.name = k.user_name WHERE k.prefix = ?", (prefix,))
        if row is None or row["key_revoked"] is not None or row["revoked_at"] is not None:
            raise AuthenticationError("invalid or revoked API key")
        digest = hashlib.sha256(key.encode()).hexdigest()
        if known_only:
            return _user(row) if self._verified_lately(digest, row["key_hash"]) else None
        with self._lock:
            # One verification per key at a time: twenty clients that connect at once with one key
            # wait for the first check instead of running twenty argon2 checks side by side.
            gate = self._verifying.setdefault(digest, threading.Lock())
        with gate:
            if not self._verified_lately(digest, row["key_hash"]):
                if not verify_secret(secret, row["key_hash"]):
                    raise AuthenticationError("invalid or revoked API key")
                with self._lock:
                    if len(self._verified) > 10_000:
                        self._verified.clear()
                        self._verifying.clear()
                    self._verified[digest] = (row["key_hash"], time.monotonic() + KEY_CACHE_S)
        return _user(row)
