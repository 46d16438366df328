"""The scheduler's guard (`dask scheduler --preload fedpe.stack.scheduler_guard`): a host can
serve its roles and nothing more.

Every inbound comm is judged by the certificate at its other end (tasks/wire/identity.py):

- the coordinator (``fedpe-coordinator``: the runner's flows, the API, the admin CLI) may use
  the whole scheduler, clients included;
- a host (any other name the CA signed) may register a worker under its own name only, send
  that worker's heartbeats and task reports, publish its own record and read the federation
  record, read strictly (no pickle is ever loaded from a host) and plain data only. It may not
  register as a client, so it cannot submit work, run functions, add plugins or read results.
  What it reports about a task (its result type, its error) is stripped of anything the
  coordinator's client would unpickle;
- no certificate, an unknown one, or one the federation revoked (``{FEDPE_HOME}/tls/revoked.json``,
  re-read when it changes) is cut off before a byte is read; a connected host whose
  certificate is revoked is removed at once.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

from tasks.hosts import FEDERATION_METADATA_KEY, HOSTS_METADATA_KEY
from tasks.wire.identity import Identity, identity_of
from tasks.wire.strict import StrictReadError, make_strict, require_plain

logger = logging.getLogger("fedpe.guard")

REVOKED_ENV = "FEDPE_TLS_REVOKED"
#: RPC ops a host may call (its worker's own housekeeping, and `fedpe host start`'s check).
HOST_OPS = frozenset({"register-worker", "heartbeat_worker", "unregister", "who_has", "set_resources",
                      "retire_workers", "set_metadata", "get_metadata", "identity", "close"})
#: What a host's worker may send on its stream once registered (the scheduler's worker handlers).
WORKER_STREAM_OPS = frozenset({"task-finished", "task-erred", "release-worker-data", "add-keys", "long-running",
                               "reschedule", "keep-alive", "log-event", "worker-status-change",
                               "request-refresh-who-has", "close-stream"})


class Refused(StrictReadError):
    """Raised when a host sends what it may not; the comm is closed."""


class SchedulerGuard:
    def __init__(self, scheduler, revoked_file: str | None):
        self.scheduler = scheduler
        self.revoked_file = Path(revoked_file) if revoked_file else None
        self.revoked: set[str] = set()
        self._revoked_mtime: float | None = None
        self.addresses: dict[str, Identity] = {}  # worker address -> the host that registered it

    # -- revocation ---------------------------------------------------------------------------
    def refresh_revoked(self) -> bool:
        """Re-read the revoked serials when their file changed; True when it did."""
        if self.revoked_file is None:
            return False
        try:
            mtime = self.revoked_file.stat().st_mtime
        except FileNotFoundError:
            mtime = None
        if mtime == self._revoked_mtime:
            return False
        self._revoked_mtime = mtime
        try:
            self.revoked = set(json.loads(self.revoked_file.read_text()).get("serials", {})) if mtime else set()
        except (OSError, ValueError):
            logger.exception("cannot read %s; keeping the previous list", self.revoked_file)
            return False
        federation = dict(self.scheduler.get_metadata(keys=[FEDERATION_METADATA_KEY], default={}) or {})
        federation["revoked"] = sorted(self.revoked)
        self.scheduler.set_metadata(keys=[FEDERATION_METADATA_KEY], value=federation)
        return True

    async def drop_revoked(self) -> None:
        if not self.refresh_revoked():
            return
        for address, peer in list(self.addresses.items()):
            if peer.serial in self.revoked and address in self.scheduler.workers:
                logger.warning("removing %s: its certificate was revoked", peer)
                await self.scheduler.remove_worker(address, stimulus_id="fedpe-revoked", close=True)

    # -- the comms ------------------------------------------------------------------------------
    def install(self) -> "SchedulerGuard":
        scheduler = self.scheduler
        original = scheduler._handle_comm

        async def guarded(comm) -> None:
            peer = identity_of(comm)
            self.refresh_revoked()
            if peer.kind not in ("coordinator", "host") or peer.serial in self.revoked:
                logger.warning("refused a connection from %s at %s", peer, getattr(comm, "peer_address", "?"))
                comm.abort()
                return
            if peer.is_host:
                make_strict(comm, HostMessages(self, peer).check, who=str(peer))
            await original(comm)

        scheduler._handle_comm = guarded
        from tornado.ioloop import PeriodicCallback

        self._watch = PeriodicCallback(self.drop_revoked, 2000)
        self._watch.start()
        scheduler.fedpe_guard = self
        return self


class HostMessages:
    """The messages of one host comm: RPC first, then (after registering) its worker's stream."""

    def __init__(self, guard: SchedulerGuard, peer: Identity):
        self.guard = guard
        self.peer = peer
        self.stream = False

    def own(self, address: Any) -> bool:
        found = self.guard.addresses.get(str(address))
        return found is not None and found.name == self.peer.name

    def check(self, msg: Any) -> Any:
        if self.stream:
            batch = msg if isinstance(msg, (list, tuple)) else [msg]
            return [self.stream_message(m) for m in batch] if isinstance(msg, (list, tuple)) else self.stream_message(msg)
        if not isinstance(msg, dict):
            raise Refused(f"{type(msg).__name__} instead of a request")
        op = msg.get("op")
        if op not in HOST_OPS:
            raise Refused(f"op {op!r} is not for hosts")
        require_plain(msg)
        name = self.peer.name
        if op == "register-worker":
            if str(msg.get("name")) != name:
                raise Refused(f"host {name} may register only as {name!r}, not {msg.get('name')!r}")
            address = str(msg.get("address"))
            holder = self.guard.addresses.get(address)
            if holder is not None and holder.name != name and address in self.guard.scheduler.workers:
                raise Refused(f"host {name} claimed the address of host {holder.name}")
            self.guard.addresses[address] = self.peer
            self.stream = True
        elif op in ("heartbeat_worker", "unregister", "set_resources") and not self.own(msg.get("address")
                                                                                       or msg.get("worker")):
            raise Refused(f"{op} for a worker that is not host {name}'s")
        elif op == "retire_workers" and not all(self.own(w) for w in (msg.get("workers") or [None])):
            raise Refused(f"retire_workers for workers that are not host {name}'s")
        elif op == "set_metadata" and list(msg.get("keys") or []) != [HOSTS_METADATA_KEY, name]:
            raise Refused(f"host {name} may set only its own record")
        elif op == "get_metadata" and list(msg.get("keys") or []) != [FEDERATION_METADATA_KEY]:
            raise Refused(f"host {name} may read only the federation record")
        return msg

    def stream_message(self, msg: Any) -> Any:
        if not isinstance(msg, dict) or msg.get("op") not in WORKER_STREAM_OPS:
            raise Refused(f"stream op {msg.get('op') if isinstance(msg, dict) else msg!r} is not a worker's")
        op = msg["op"]
        if op == "task-finished":
            msg["type"] = None  # the client would unpickle it
        elif op == "task-erred":
            from distributed.protocol import to_serialize

            text = str(msg.get("exception_text") or "task failed")[:2000]
            # Made here, by the scheduler: nothing of the host's own pickles reaches a client.
            msg["exception"] = to_serialize(RuntimeError(f"on host {self.peer.name}: {text}"))
            msg["traceback"] = None
        return require_plain(msg, allow=("exception",) if op == "task-erred" else ())


def pace_heartbeats() -> None:
    """Hosts beat every few seconds, not twice a second (fedpe/dask_settings.py): Dask's scheduler
    reads its module-level `heartbeat_interval` each time it answers a worker."""
    import distributed.scheduler

    from fedpe.dask_settings import heartbeat_interval

    distributed.scheduler.heartbeat_interval = heartbeat_interval


async def dask_setup(scheduler) -> None:
    pace_heartbeats()
    SchedulerGuard(scheduler, os.environ.get(REVOKED_ENV)).install()
