"""A host's guard: who may talk to this worker, and what they may say.

Installed by the host's preload on its Dask worker. Every inbound comm is judged by the
certificate at its other end (tasks/wire/identity.py):

- the scheduler (`fedpe-scheduler`) may use the worker's Dask handlers, except those that
  run code on it outside a task or add plugins (`BLOCKED`);
- the coordinator (`fedpe-coordinator`) and other hosts may only close the comm: role calls
  reach a host over its own line to the scheduler's relay (tasks/host/relay_line.py), and the
  worker listens on its loopback only (fedpe/host/start.py). What they send is read strictly
  (tasks/wire/transport.py): no pickle is ever loaded from them;
- anyone else, a comm that is not a fedpe comm, and any certificate the federation revoked,
  is cut off before a byte is read.
"""

from __future__ import annotations

import logging

from tasks.wire.strict import StrictReadError, require_plain
from tasks.wire.transport import FedpeComm, make_strict

logger = logging.getLogger("fedpe.guard")

#: Worker handlers nobody may use on a host: running code outside a task, adding files or
#: plugins, calling actors (fedpe has none), profiling and state dumps.
BLOCKED = ("run", "run_coroutine", "plugin-add", "plugin-remove", "upload_file", "actor_execute", "actor_attribute",
           "get_story", "benchmark_disk", "benchmark_memory", "benchmark_network", "profile", "profile_metadata",
           "dump_state", "call_stack")
#: What the coordinator and other hosts may send a host directly.
PEER_OPS = frozenset({"close"})


class WorkerGuard:
    def __init__(self, worker):
        self.worker = worker
        self.revoked: set[str] = set()

    def install(self) -> "WorkerGuard":
        worker = self.worker
        worker.blocked_handlers = sorted(set(worker.blocked_handlers or ()) | set(BLOCKED))
        for op in BLOCKED:  # a blocked op answers an error; gone from the table it cannot even be named
            worker.handlers.pop(op, None)
        original = worker._handle_comm

        async def guarded(comm) -> None:
            peer = getattr(comm, "peer", None)
            if not isinstance(comm, FedpeComm) or peer.kind == "unknown" or (peer.serial and peer.serial in self.revoked):
                logger.warning("refused a connection from %s at %s", peer or "a non-fedpe comm",
                               getattr(comm, "peer_address", "?"))
                comm.abort()
                return
            if peer.kind != "scheduler":
                make_strict(comm, self._peer_message)
            await original(comm)

        worker._handle_comm = guarded
        worker.fedpe_guard = self
        return self

    @staticmethod
    def _peer_message(msg):
        if not isinstance(msg, dict) or msg.get("op") not in PEER_OPS:
            op = msg.get("op") if isinstance(msg, dict) else type(msg).__name__
            raise StrictReadError(f"op {op!r}: role calls come through the relay only")
        return require_plain(msg)
