"""Submit tokens: the same token and request give the same execution, never a second run.

Table `submit_tokens` (UNIQUE(user, token)) in the API database keeps the sha256 of the
canonical request; the same token with another request is a 409. A row is claimed before the
flow run is created, so two concurrent submissions with one token create one run.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import sqlite3
from dataclasses import dataclass
from typing import Any

from fedpe.auth.db import connect
from fedpe.errors import Conflict, InvalidArgument

#: A claim without an execution older than this is from a submission that died: taken over.
STALE_CLAIM_S = 60.0
MAX_TOKEN_LENGTH = 200


def canonical_request(tool: str, parameters: dict[str, Any]) -> str:
    """The request as one canonical JSON text: key order and spacing do not matter."""
    return json.dumps({"tool": tool, "parameters": parameters}, sort_keys=True, separators=(",", ":"), default=str)


def request_sha256(tool: str, parameters: dict[str, Any]) -> str:
    return hashlib.sha256(canonical_request(tool, parameters).encode()).hexdigest()


@dataclass(frozen=True)
class Claim:
    """What a submit token says about a request: new (submit it), done (its id) or busy (wait)."""

    state: str  # "new" | "done" | "busy"
    execution_id: str | None = None


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


class SubmitTokens:
    def __init__(self, home: str | os.PathLike):
        self.home = home

    def claim(self, user: str, token: str, digest: str) -> Claim:
        if not token or len(token) > MAX_TOKEN_LENGTH:
            raise InvalidArgument(f"submit_token: 1-{MAX_TOKEN_LENGTH} characters", field="submit_token")
        with connect(self.home) as db:
            try:
                db.execute("INSERT INTO submit_tokens (user_name, token, request_sha256, created_at) VALUES (?, ?, ?, ?)",
                           (user, token, digest, _now().isoformat()))
                return Claim("new")
            except sqlite3.IntegrityError:
                pass
            row = db.execute("SELECT * FROM submit_tokens WHERE user_name = ? AND token = ?", (user, token)).fetchone()
            if row["request_sha256"] != digest:
                raise Conflict("submit_token was already used with a different request", field="submit_token",
                               details={"execution_id": row["execution_id"]})
            if row["execution_id"]:
                return Claim("done", row["execution_id"])
            age = (_now() - dt.datetime.fromisoformat(row["created_at"])).total_seconds()
            if age > STALE_CLAIM_S:
                db.execute("UPDATE submit_tokens SET created_at = ? WHERE user_name = ? AND token = ?",
                           (_now().isoformat(), user, token))
                return Claim("new")
            return Claim("busy")

    def record(self, user: str, token: str, execution_id: str) -> None:
        with connect(self.home) as db:
            db.execute("UPDATE submit_tokens SET execution_id = ? WHERE user_name = ? AND token = ?",
                       (execution_id, user, token))

    def release(self, user: str, token: str) -> None:
        """Forget a claim whose submission failed, so the same token can be retried."""
        with connect(self.home) as db:
            db.execute("DELETE FROM submit_tokens WHERE user_name = ? AND token = ? AND execution_id IS NULL",
                       (user, token))

    def forget_execution(self, execution_id: str) -> int:
        """Delete the tokens that named a deleted execution; returns how many."""
        with connect(self.home) as db:
            return db.execute("DELETE FROM submit_tokens WHERE execution_id = ?", (execution_id,)).rowcount
