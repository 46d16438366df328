"""The API's SQLite database (`FEDPE_HOME/api.db`): one short connection per change.

Short connections let the CLI (`fedpe users add`) and the API process share the file: the API
sees a user added after it started on its next request. A database made by an older fedpe gets
the columns added since on first open (`_MIGRATIONS`). The one read made on every request (the
caller's key or token) goes through `read`, a connection kept per thread: opening one costs
more than the query, and in WAL mode each statement of an autocommit connection still sees
every change committed before it (a key revoked from the CLI is refused on the next request).
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
from pathlib import Path
from typing import Iterator

DB_NAME = "api.db"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    name TEXT PRIMARY KEY,
    is_admin INTEGER NOT NULL DEFAULT 0,
    password_hash TEXT,
    created_at TEXT NOT NULL,
    revoked_at TEXT,
    tokens_valid_after TEXT
);
CREATE TABLE IF NOT EXISTS api_keys (
    prefix TEXT PRIMARY KEY,
    user_name TEXT NOT NULL REFERENCES users(name),
    key_hash TEXT NOT NULL,
    created_at TEXT NOT NULL,
    revoked_at TEXT
);
CREATE TABLE IF NOT EXISTS submit_tokens (
    user_name TEXT NOT NULL,
    token TEXT NOT NULL,
    request_sha256 TEXT NOT NULL,
    execution_id TEXT,
    created_at TEXT NOT NULL,
    UNIQUE (user_name, token)
);
"""

_MIGRATIONS = (("users", "tokens_valid_after", "TEXT"),)
"""(table, column, type) added after the first release; NULL in the rows that were there before."""

_initialised: set[str] = set()
_readers = threading.local()


def db_path(home: str | os.PathLike) -> Path:
    return Path(home) / DB_NAME


def _migrate(conn: sqlite3.Connection) -> None:
    """Add the `_MIGRATIONS` columns a database made by an older fedpe lacks."""
    for table, column, kind in _MIGRATIONS:
        if column in {row["name"] for row in conn.execute(f"PRAGMA table_info({table})")}:
            continue
        try:
            conn.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")
        except sqlite3.OperationalError as exc:
            if "duplicate column" not in str(exc):  # another process added it first
                raise


@contextlib.contextmanager
def connect(home: str | os.PathLike) -> Iterator[sqlite3.Connection]:
    """A connection in a transaction (committed on success), schema created on first use."""
    path = db_path(home)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        # Hashes only, but still nobody else's business.
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
    conn = sqlite3.connect(path, timeout=10.0, isolation_level=None)
    try:
        conn.row_factory = sqlite3.Row
        if str(path) not in _initialised:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.executescript(_SCHEMA)
            _migrate(conn)
            _initialised.add(str(path))
        conn.execute("BEGIN")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
    finally:
        conn.close()


def read(home: str | os.PathLike, sql: str, params: tuple = ()) -> sqlite3.Row | None:
    """The first row of one read-only statement, on this thread's kept connection."""
    path = str(db_path(home))
    conns: dict[str, sqlite3.Connection] = _readers.__dict__.setdefault("conns", {})
    conn = conns.get(path)
    if conn is None:
        with connect(home):  # the file, its schema and its migrations, once
            pass
        conn = sqlite3.connect(path, timeout=10.0, isolation_level=None)
        conn.row_factory = sqlite3.Row
        conns[path] = conn
    return conn.execute(sql, params).fetchone()
