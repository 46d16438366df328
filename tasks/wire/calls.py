"""Role calls: one request and one answer, in fedpe's codec, to a host named by name, through the relay.

The caller is the server role on its host (calling a client role's `fit`) or the coordinator
(polling a role, steering it). Hosts only dial out, so nobody dials a host: a `Peer` keeps one
comm to the scheduler's role relay (fedpe/stack/relay.py), checks that the certificate at the
other end is the scheduler's, and names the host it calls; the relay passes the request on
over the line the host opened and hands back its answer, to this comm only. The payload stays
in fedpe's codec end to end: neither end ever unpickles what the other sent. Calls are
coroutines on the caller's Dask event loop (the coordinator's, or a host worker's on behalf of
its role process: tasks/host/role_process.py, `call_raw`).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from tasks.wire import codec
from tasks.wire.errors import CallError
from tasks.wire.strict import StrictReadError, require_plain
from tasks.wire.transport import FedpeComm, make_strict

OP = "fedpe-relay-call"


@dataclass
class Peer:
    """Calls to the host `name` through the relay at `address` (a comm opened on first use and kept)."""

    name: str
    address: str
    connection_args: dict
    timeout_s: float = 10.0
    _comm: Any = None
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def _connect(self):
        from distributed.comm import connect

        comm = await connect(self.address, timeout=self.timeout_s, **self.connection_args)
        peer = getattr(comm, "peer", None)
        if not (isinstance(comm, FedpeComm) and peer.kind == "scheduler"):
            comm.abort()
            raise CallError(f"{self.address} presented the certificate of {peer}, not the scheduler's")
        return make_strict(comm, require_plain)  # the relay passes on what hosts wrote: plain data only

    async def call(self, execution_id: str, role: str, method: str, value: Any = None,
                   timeout_s: float | None = None) -> Any:
        """`method` of the role `role` of `execution_id` on this host, with `value` as its argument."""
        return codec.decode(await self.call_raw(execution_id, role, method, codec.encode(value), timeout_s))

    async def call_raw(self, execution_id: str, role: str, method: str, payload: bytes,
                       timeout_s: float | None = None) -> bytes:
        """The same call with its argument and answer left in the codec (a host's worker passes
        its role process's calls on without reading them)."""
        async with self._lock:
            try:
                if self._comm is None or self._comm.closed():
                    self._comm = await self._connect()
                await self._comm.write({"op": OP, "to": self.name, "execution": execution_id, "role": role,
                                        "method": method, "payload": payload, "reply": True,
                                        "timeout_s": float(timeout_s or self.timeout_s * 6)})
                answer = await asyncio.wait_for(self._comm.read(), timeout_s) if timeout_s else await self._comm.read()
            except (OSError, asyncio.TimeoutError, StrictReadError) as exc:
                self.close()
                raise CallError(f"{method} on host {self.name}: {type(exc).__name__}: {exc}") from None
            except asyncio.CancelledError:  # a late answer must not be read as the next call's
                self.close()
                raise
        if not isinstance(answer, dict) or answer.get("status") != "OK":
            message = answer.get("message") if isinstance(answer, dict) else None
            raise CallError(f"{method} on host {self.name}: {message or answer!r}")
        payload = answer.get("payload", b"\xc0")
        if not isinstance(payload, (bytes, bytearray)):
            raise CallError(f"{method} on host {self.name}: the answer's payload is not bytes")
        return bytes(payload)

    def close(self) -> None:
        if self._comm is not None:
            self._comm.abort()
            self._comm = None

