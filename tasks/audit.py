"""A host's audit log: what ran on it, for whom, what it read and what left it, hash-chained.

JSON lines under the host's data folder (`{data_dir}/.fedpe/audit.jsonl`), kept on the host,
only ever appended to. Each line carries the hash of the line before it (`prev`) and its own
(`hash`, SHA-256 of the line's canonical JSON without `hash`), so a line changed, removed or
inserted afterwards breaks the chain at that line: `verify` names it. `fedpe host audit`
prints and verifies the log.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import threading
from pathlib import Path
from typing import Any, Iterator

AUDIT_DIR = ".fedpe"
AUDIT_FILE = "audit.jsonl"
GENESIS = "0" * 64


def audit_path(data_dir: str | os.PathLike) -> Path:
    return Path(data_dir) / AUDIT_DIR / AUDIT_FILE


def _digest(entry: dict) -> str:
    body = {k: v for k, v in entry.items() if k != "hash"}
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":"), default=str).encode()).hexdigest()


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class AuditLog:
    """Appends chained entries to one host's log; safe across the roles' threads."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self._lock = threading.Lock()
        self._last: tuple[int, str] | None = None

    def _tail(self) -> tuple[int, str]:
        """(seq, hash) of the last line, read once; the chain continues from there."""
        if self._last is None:
            entry = _last_entry(self.path)
            self._last = (int(entry.get("seq", 0)), str(entry.get("hash", GENESIS))) if entry else (0, GENESIS)
        return self._last

    def append(self, event: str, **fields: Any) -> dict:
        """Write one entry: `event` with `fields`, the time, its sequence number and the chain."""
        with self._lock:
            seq, prev = self._tail()
            entry = {"seq": seq + 1, "time": dt.datetime.now(dt.timezone.utc).isoformat(), "event": event,
                     **fields, "prev": prev}
            entry["hash"] = _digest(entry)
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            line = json.dumps(entry, sort_keys=True, default=str) + "\n"
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(fd, line.encode())
                os.fsync(fd)
            finally:
                os.close(fd)
            self._last = (entry["seq"], entry["hash"])
            return entry

    def head(self) -> dict:
        """The log's head, `{"seq", "hash"}`: what a role's last answer carries off the host, so a
        log later cut short or rewritten no longer matches what the coordinator recorded."""
        with self._lock:
            seq, last = self._tail()
            return {"seq": seq, "hash": last}


def _last_entry(path: Path, block: int = 65536) -> dict | None:
    """The log's last entry, read from its end: each new role process of the host continues the
    chain, and the log only grows (a 1,000-round training adds a line per round on every client)."""
    try:
        with open(path, "rb") as fh:
            pos = fh.seek(0, os.SEEK_END)
            tail = b""
            while pos > 0:
                step = min(block, pos)
                pos -= step
                fh.seek(pos)
                tail = fh.read(step) + tail
                lines = [line for line in tail.splitlines() if line.strip()]
                if len(lines) >= 2 or (pos == 0 and lines):  # the last line is whole: a newline precedes it
                    return json.loads(lines[-1])
            return None
    except FileNotFoundError:
        return None


def _lines(path: Path) -> Iterator[dict]:
    try:
        with open(path, encoding="utf-8") as fh:
            for line in fh:
                if line.strip():
                    yield json.loads(line)
    except FileNotFoundError:
        return


def parse_head(text: str) -> dict:
    """A head as `fedpe host audit --expect` takes it: `SEQ:HASH`; ValueError otherwise."""
    seq, _, digest = text.partition(":")
    if not seq.isdigit() or len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
        raise ValueError(f"{text!r} is not SEQ:HASH (a line number and a 64-digit SHA-256 in hex)")
    return {"seq": int(seq), "hash": digest}


def head_text(head: dict) -> str:
    """A head `{"seq", "hash"}` as `fedpe host audit --expect` takes it, `SEQ:HASH` (`parse_head`'s inverse)."""
    return f"{head['seq']}:{head['hash']}"


def check_head(entries: list[dict], head: dict) -> list[str]:
    """The problems of a verified log against a head recorded off the host (empty when it holds)."""
    found = next((e for e in entries if e.get("seq") == head["seq"]), None)
    if found is None:
        return [f"line {head['seq']} is gone: the log ends at line {len(entries)} (cut short)"]
    if found.get("hash") != head["hash"]:
        return [f"line {head['seq']} is not the one recorded off the host (the log was rewritten)"]
    return []


def verify(path: str | os.PathLike) -> tuple[list[dict], list[str]]:
    """Every entry of the log and the problems found (empty when the chain holds)."""
    entries, problems = [], []
    prev = GENESIS
    try:
        with open(path, encoding="utf-8") as fh:
            raw_lines = fh.readlines()
    except FileNotFoundError:
        return [], []
    for number, line in enumerate(raw_lines, start=1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
        except ValueError:
            problems.append(f"line {number}: not JSON")
            prev = None
            continue
        entries.append(entry)
        if entry.get("hash") != _digest(entry):
            problems.append(f"line {number}: its hash does not match its content (changed after it was written)")
        if prev is not None and entry.get("prev") != prev:
            problems.append(f"line {number}: does not follow the line before it (a line was removed, inserted "
                            "or changed before it)")
        prev = entry.get("hash")
    return entries, problems
