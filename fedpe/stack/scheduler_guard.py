"""The scheduler's guard (`dask scheduler --preload fedpe.stack.scheduler_guard`): a host can
serve its roles and nothing more.

Bytes are made safe below this module: every comm of the scheduler is a `fedpe://` comm
(tasks/wire/transport.py), which reads a host's messages with the strict decoder before Dask
sees them, the handshake included, and which a revoked certificate cannot open (the CRL is
checked in the TLS handshake). This guard decides what the decoded messages may *mean*, per
comm, by the certificate at its other end (tasks/wire/identity.py):

- the coordinator (`fedpe-coordinator`: the runner's flows, the API, the admin CLI) may use
  the whole scheduler, clients included;
- a host (any other name the CA signed) is who its certificate says and nothing else: it may
  register one worker, under its own name, at one address, once; every later message that
  names a worker or an address must name that one, or the message is refused and the comm
  closed. It may send that worker's heartbeats and task reports, publish its own record and
  read the federation record. It may not register as a client, so it cannot submit work, run functions, add
  plugins or read results. A report about a task processing on another worker is dropped.
  Events it logs reach clients only on fedpe's own topics; what it reports about a failed
  task is replaced by an error the scheduler makes;
- a comm that is not a fedpe comm, or has no certificate, an unknown one or a revoked one, is
  cut off before a byte is read; when the revoked list changes, every open comm of a revoked
  certificate is closed and its worker removed.
"""

from __future__ import annotations

import json
import logging
import os
import re
from pathlib import Path
from typing import Any

from fedpe.stack import worker_reports
from fedpe.stack.relay import ATTACH, CALL, RoleRelay
from tasks.hosts import FEDERATION_METADATA_KEY, HOSTS_METADATA_KEY
from tasks.wire.identity import Identity
from tasks.wire.strict import StrictReadError, require_plain
from tasks.wire.transport import PREFIX, FedpeComm, abort_peers, make_strict

logger = logging.getLogger("fedpe.guard")

REVOKED_ENV = "FEDPE_TLS_REVOKED"
#: RPC ops a host may call (its worker's own housekeeping, and `fedpe host start`'s check).
HOST_OPS = frozenset({"register-worker", "heartbeat_worker", "unregister", "who_has", "set_resources",
                      "retire_workers", "set_metadata", "get_metadata", "identity", "close", ATTACH, CALL})
#: The fields of a relay call a host makes (a server role calling its clients), with their types.
CALL_FIELDS = {"op": str, "reply": bool, "to": str, "execution": str, "role": str, "method": str, "payload": bytes,
               "timeout_s": (int, float)}
#: What a host's worker may send on its stream once registered (the scheduler's worker handlers).
WORKER_STREAM_OPS = frozenset({"task-finished", "task-erred", "release-worker-data", "add-keys", "long-running",
                               "reschedule", "keep-alive", "log-event", "worker-status-change",
                               "request-refresh-who-has", "close-stream"})
#: Stream ops about one task: they count only from the worker the task is processing on.
TASK_OPS = frozenset({"task-finished", "task-erred", "long-running", "reschedule"})
#: Statuses a worker may report for itself (Dask's `Status` names a worker moves between).
WORKER_STATUSES = frozenset({"running", "paused", "closing_gracefully"})
#: Event topics a host may log on (clients run handlers on Dask's own `print` and `warn`).
HOST_TOPIC = re.compile(r"^fedpe-[a-z0-9-]{1,64}$")
#: A worker's address as a host may state it: fedpe://IP-or-name:port, nothing an alias resolves.
WORKER_ADDRESS = re.compile(r"^fedpe://(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]{1,253}):[0-9]{1,5}$")


class Refused(StrictReadError):
    """Raised when a host sends what it may not; the comm is closed."""


class SchedulerGuard:
    def __init__(self, scheduler: Any, revoked_file: str | None):
        self.scheduler = scheduler
        self.revoked_file = Path(revoked_file) if revoked_file else None
        self.revoked: set[str] = set()
        self._revoked_mtime: float | None = None
        #: host name -> the one worker address it registered (bound for as long as it is connected)
        self.bound: dict[str, str] = {}
        self.serials: dict[str, str] = {}  # host name -> serial of the certificate it registered with

    # -- revocation ---------------------------------------------------------------------------
    def refresh_revoked(self) -> bool:
        """Re-read the revoked serials when their file changed; True when it did."""
        if self.revoked_file is None:
            return False
        try:
            mtime = self.revoked_file.stat().st_mtime_ns
        except FileNotFoundError:
            mtime = None
        if mtime == self._revoked_mtime:
            return False
        try:
            self.revoked = set(json.loads(self.revoked_file.read_text()).get("serials", {})) if mtime else set()
        except (OSError, ValueError):
            logger.exception("cannot read %s; keeping the previous list", self.revoked_file)
            return False
        self._revoked_mtime = mtime
        federation = dict(self.scheduler.get_metadata(keys=[FEDERATION_METADATA_KEY], default={}) or {})
        federation["revoked"] = sorted(self.revoked)
        self.scheduler.set_metadata(keys=[FEDERATION_METADATA_KEY], value=federation)
        return True

    async def drop_revoked(self) -> None:
        """Close every comm of a revoked certificate and remove the workers they registered."""
        self.refresh_revoked()
        if not self.revoked:
            return
        abort_peers(self.revoked)
        for name, serial in list(self.serials.items()):
            address = self.bound.get(name)
            if serial in self.revoked and address in self.scheduler.workers:
                logger.warning("removing host %s: its certificate was revoked", name)
                await self.scheduler.remove_worker(address, stimulus_id="fedpe-revoked", close=False)

    def own_address(self, peer: Identity) -> str | None:
        """The worker address host `peer` registered, while that worker is connected."""
        address = self.bound.get(peer.name)
        return address if address in self.scheduler.workers else None

    # -- the comms ------------------------------------------------------------------------------
    def install(self) -> "SchedulerGuard":
        scheduler = self.scheduler
        original = scheduler._handle_comm

        async def guarded(comm: Any) -> None:
            self.refresh_revoked()
            peer = getattr(comm, "peer", None)
            if (not isinstance(comm, FedpeComm) or peer.kind not in ("coordinator", "host")
                    or peer.serial in self.revoked):
                logger.warning("refused a connection from %s at %s", peer or "a non-fedpe comm",
                               getattr(comm, "peer_address", "?"))
                comm.abort()
                return
            if peer.is_host:
                make_strict(comm, HostMessages(self, peer).check)
            await original(comm)

        scheduler._handle_comm = guarded
        from tornado.ioloop import PeriodicCallback

        self._watch = PeriodicCallback(self.drop_revoked, 1000)
        self._watch.start()
        scheduler.fedpe_guard = self
        return self


class HostMessages:
    """The messages of one host comm: RPC first, then (after registering) its worker's stream."""

    def __init__(self, guard: SchedulerGuard, peer: Identity):
        self.guard = guard
        self.peer = peer
        self.stream = False
        self.line = False  # after ATTACH: the host's relay line, on which only answers come

    def refuse(self, why: str) -> Refused:
        logger.warning("host %s: %s", self.peer.name, why)
        return Refused(f"host {self.peer.name}: {why}")

    def own(self, address: Any) -> bool:
        return isinstance(address, str) and address == self.guard.own_address(self.peer)

    def check(self, msg: Any) -> Any:
        if self.line:
            return self.answer(msg)
        if self.stream:
            if isinstance(msg, (list, tuple)):
                return [m for m in map(self.stream_message, msg) if m is not None]
            return self.stream_message(msg) or {"op": "keep-alive"}  # a new dict: Dask pops its "op"
        if not isinstance(msg, dict):
            raise self.refuse(f"{type(msg).__name__} instead of a request")
        op = msg.get("op")
        if op not in HOST_OPS:
            raise self.refuse(f"op {op!r} is not for hosts")
        require_plain(msg)
        if op in ("register-worker", "heartbeat_worker"):
            try:  # the scheduler trusts these messages' shape: rebuilt from fedpe's schema
                msg = worker_reports.rewrite(msg)
            except ValueError as exc:
                raise self.refuse(str(exc)) from None
        if op == ATTACH:
            self.line = True
        elif op == CALL:
            bad = [k for k, v in msg.items() if k not in CALL_FIELDS or not isinstance(v, CALL_FIELDS[k])]
            if bad:
                raise self.refuse(f"{CALL} with {', '.join(map(str, bad))}")
        elif op == "register-worker":
            self.register(msg)
        elif op in ("heartbeat_worker", "unregister", "set_resources"):
            target = msg.get("address", msg.get("worker"))
            if not self.own(target):
                raise self.refuse(f"{op} for {target!r}, which is not its worker")
        elif op == "retire_workers":
            if msg.get("names") is not None or not all(self.own(w) for w in (msg.get("workers") or [None])):
                raise self.refuse("retire_workers for workers that are not its own")
        elif op == "set_metadata" and list(msg.get("keys") or []) != [HOSTS_METADATA_KEY, self.peer.name]:
            raise self.refuse("set_metadata outside its own record")
        elif op == "get_metadata" and list(msg.get("keys") or []) != [FEDERATION_METADATA_KEY]:
            raise self.refuse("get_metadata outside the federation record")
        return msg

    def answer(self, msg: Any) -> dict:
        """An answer on the host's relay line: an id, a status, and a payload or a message."""
        if not (isinstance(msg, dict) and isinstance(msg.get("id"), int) and msg.get("status") in ("OK", "error")
                and set(msg) <= {"id", "status", "payload", "message"}
                and isinstance(msg.get("payload", b""), bytes) and isinstance(msg.get("message", ""), str)):
            raise self.refuse("a relay answer out of shape")
        return msg

    def register(self, msg: dict) -> None:
        """One worker per host: its own name, one plain address no other worker has, no aliases."""
        name, address, guard = self.peer.name, msg.get("address"), self.guard
        if msg.get("name") != name:
            raise self.refuse(f"register-worker as {msg.get('name')!r}")
        if not isinstance(address, str) or not WORKER_ADDRESS.match(address) or not address.startswith(PREFIX):
            raise self.refuse(f"register-worker at {address!r}, which is not a fedpe://HOST:PORT address")
        if guard.own_address(self.peer) is not None:
            raise self.refuse("register-worker while its worker is connected")
        scheduler = guard.scheduler
        if address in scheduler.workers or address in scheduler.aliases:
            raise self.refuse(f"register-worker at {address}, the address of another worker")
        guard.bound[name] = address
        guard.serials[name] = self.peer.serial
        self.stream = True

    def stream_message(self, msg: Any) -> dict | None:
        """The message as the scheduler may handle it, None to drop it; Refused to close the comm."""
        if not isinstance(msg, dict) or msg.get("op") not in WORKER_STREAM_OPS:
            raise self.refuse(f"stream op {msg.get('op') if isinstance(msg, dict) else msg!r} is not a worker's")
        op = msg["op"]
        if "worker" in msg and not self.own(msg["worker"]):  # Dask merges the message over its own `worker`
            raise self.refuse(f"{op} in the name of worker {msg['worker']!r}")
        if op in TASK_OPS and self._processing_elsewhere(msg.get("key")):
            logger.warning("host %s: dropped %s for a task processing on another worker", self.peer.name, op)
            return None
        if op == "worker-status-change" and msg.get("status") not in WORKER_STATUSES:
            raise self.refuse(f"worker-status-change to {msg.get('status')!r}")
        if op == "log-event" and not (isinstance(msg.get("topic"), str) and HOST_TOPIC.match(msg["topic"])):
            logger.warning("host %s: dropped an event on topic %r", self.peer.name, msg.get("topic"))
            return None
        if op == "task-finished":
            msg["type"] = None  # a pickled type the coordinator's client would load
        elif op == "task-erred":
            from distributed.protocol import to_serialize

            text = str(msg.get("exception_text") or "task failed")[:2000]
            # Made here, by the scheduler: nothing of the host's own bytes reaches a client.
            msg["exception"] = to_serialize(RuntimeError(f"on host {self.peer.name}: {text}"))
            msg["traceback"] = None
        return require_plain(msg, allow=("exception",) if op == "task-erred" else ())

    def _processing_elsewhere(self, key: Any) -> bool:
        """True when `key` is a task processing on another worker (a report about it is not this host's).

        A task already released or forgotten is Dask's to handle (it tells the worker to free it).
        """
        try:
            ts = self.guard.scheduler.tasks.get(key)
        except TypeError:  # an unhashable key is no task's
            return True
        return ts is not None and ts.processing_on is not None and not self.own(ts.processing_on.address)


def pace_heartbeats() -> None:
    """Hosts beat every few seconds, not twice a second (fedpe/dask_settings.py): Dask's scheduler
    reads its module-level `heartbeat_interval` each time it answers a worker."""
    import distributed.scheduler

    from fedpe.dask_settings import heartbeat_interval

    distributed.scheduler.heartbeat_interval = heartbeat_interval


async def dask_setup(scheduler: Any) -> None:
    pace_heartbeats()
    SchedulerGuard(scheduler, os.environ.get(REVOKED_ENV)).install()
    RoleRelay(scheduler).install()
