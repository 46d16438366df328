"""What a role sees while it runs on its host: its spec, its data folder, its log, its control,
its peers, and the one way out for anything it sends home (events the coordinator collects).

Roles hold no credential of any service: they never write the store, MLflow or Prefect
themselves. They emit events (log lines, rounds, files) that the coordinator's task for the
role collects by polling (tasks/coordinator/remote.py) and turns into the store's files, MLflow's
metrics and the Prefect task run's logs. Every file that leaves is recorded in the host's
audit log first.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Any

from tasks.audit import AuditLog, sha256_of
from tasks.policy import HostPolicy
from tasks.host.specs import RoleSpec

logger = logging.getLogger("fedpe.role")

#: A role whose coordinator has not polled it for this long assumes the execution is gone.
COORDINATOR_TIMEOUT_S = 60.0
_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING, "error": logging.ERROR}


class Control:
    """Stop, pause and cancel as the coordinator last said them (set by its polls)."""

    def __init__(self) -> None:
        self.cancelled = False
        self.stop_requested = False
        self.paused = False
        self.last_poll = time.monotonic()

    def update(self, flags: dict) -> None:
        self.last_poll = time.monotonic()
        self.cancelled = self.cancelled or bool(flags.get("cancel"))
        self.stop_requested = self.stop_requested or bool(flags.get("stop"))
        self.paused = bool(flags.get("pause"))

    @property
    def coordinator_lost(self) -> bool:
        return time.monotonic() - self.last_poll > COORDINATOR_TIMEOUT_S

    @property
    def should_stop(self) -> bool:
        return self.cancelled or self.stop_requested or self.coordinator_lost

    def wait_while_paused(self) -> None:
        """Block between rounds while paused, unless a stop or cancel arrives."""
        while self.paused and not self.should_stop:
            time.sleep(0.05)


class RoleLog:
    """Log lines of a role: to the host's own log, and as events for the execution's logs."""

    def __init__(self, context: "RoleContext"):
        self._context = context

    def _emit(self, level: str, message: str, *args: Any) -> None:
        text = message % args if args else message
        logger.log(_LEVELS[level], "%s %s: %s", self._context.spec.task, self._context.spec.execution_id[:8], text)
        self._context.emit("log", level=level, message=text, time=time.time())

    def debug(self, message: str, *args: Any) -> None:
        self._emit("debug", message, *args)

    def info(self, message: str, *args: Any) -> None:
        self._emit("info", message, *args)

    def warning(self, message: str, *args: Any) -> None:
        self._emit("warning", message, *args)

    def error(self, message: str, *args: Any) -> None:
        self._emit("error", message, *args)


class RoleContext:
    """One role's life on its host, shared by the role's thread and the host's call handler."""

    def __init__(self, spec: RoleSpec, *, data_dir: Path, audit: AuditLog | None, peers=None,
                 policy: HostPolicy | None = None, worker=None):
        self.spec = spec
        self.policy = policy or HostPolicy()  # the host's own floors, which the role applies itself
        self.host = spec.host
        self.data_dir = Path(data_dir)
        self.audit = audit
        self.peers = peers
        self.worker = worker  # what the role may ask of the host's worker (tasks/host/runtime.WorkerLink)
        self.control = Control()
        self.log = RoleLog(self)
        self._events: list[dict] = []
        self._first_seq = 0  # seq of _events[0]: acknowledged events are dropped
        self._changed = threading.Condition()
        self.result: dict | None = None
        self.collected = threading.Event()

    # -- what the role sends home --------------------------------------------------------------
    def emit(self, kind: str, **data: Any) -> None:
        """Queue an event for the coordinator (plain data and bytes only)."""
        with self._changed:
            self._events.append({"seq": self._first_seq + len(self._events), "kind": kind, **data})
            self._changed.notify_all()

    def release_file(self, name: str, data: bytes) -> None:
        """Send a file home (to `{store}/{execution}/{host}/name`), recorded in the audit log first."""
        self.record("release", file=name, bytes=len(data), sha256=sha256_of(data))
        self.emit("file", name=name, data=bytes(data))

    def record(self, event: str, **fields: Any) -> None:
        if self.audit is not None:
            self.audit.append(event, execution_id=self.spec.execution_id, task=self.spec.task, tool=self.spec.tool,
                              owner=self.spec.owner, **fields)

    def finish(self, result: dict) -> None:
        with self._changed:
            self.result = result
            self._changed.notify_all()

    # -- what the coordinator's poll reads -----------------------------------------------------
    def take(self, cursor: int, wait_s: float) -> dict:
        """Events from `cursor` on (waiting up to `wait_s` for one), dropping those before it."""
        deadline = time.monotonic() + wait_s
        with self._changed:
            drop = max(0, min(cursor - self._first_seq, len(self._events)))
            del self._events[:drop]
            self._first_seq += drop
            while not self._events and self.result is None:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._changed.wait(left)
            done = self.result is not None
            if done and cursor >= self._first_seq + len(self._events) and not self._events:
                self.collected.set()
            return {"known": True, "events": list(self._events), "done": done,
                    "result": self.result if done else None}
