"""The role relay in the scheduler: role calls travel over the connections hosts opened.

Hosts only dial out. Each host's runtime keeps one *line* to the scheduler
(`fedpe-relay-attach`, tasks/host/relay_line.py) on which requests come in and answers go
out. A caller (the coordinator following a role, or a server role calling its clients) sends
`fedpe-relay-call` naming the host by name; the relay writes the request on that host's line
with the caller's identity as the caller's certificate names it (never as the message says),
and hands the answer back on the caller's own comm, to nobody else. Which methods a caller may
call is the host runtime's decision (a client answers only its execution's server).

Everything a host writes on its line is read strictly (tasks/wire/transport.py) and must be an
answer (`LINE_ANSWER`), checked by the scheduler's guard before this module sees it; payloads
stay opaque bytes in fedpe's codec, passed on as they came.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from typing import Any

from distributed.comm.core import CommClosedError

logger = logging.getLogger("fedpe.relay")

ATTACH = "fedpe-relay-attach"
CALL = "fedpe-relay-call"
#: Longest a caller may ask the relay to wait for a host's answer.
MAX_WAIT_S = 600.0


class HostLine:
    """One host's line: requests written with an id, answers matched back to their caller by it."""

    def __init__(self, name: str, comm: Any):
        self.name = name
        self.comm = comm
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future] = {}
        self._write = asyncio.Lock()

    async def ask(self, request: dict, timeout_s: float) -> dict:
        call_id = next(self._ids)
        answer = asyncio.get_running_loop().create_future()
        self._pending[call_id] = answer
        try:
            async with self._write:
                await self.comm.write({**request, "id": call_id})
            return await asyncio.wait_for(answer, timeout_s)
        except asyncio.TimeoutError:
            return {"status": "error", "message": f"host {self.name} did not answer within {timeout_s:.0f} s"}
        except (CommClosedError, OSError):
            return {"status": "error", "message": f"host {self.name} left the relay"}
        finally:
            self._pending.pop(call_id, None)

    async def serve(self) -> None:
        """Read answers until the host's line closes; each goes to the call waiting for its id."""
        try:
            while True:
                msg = await self.comm.read()
                waiting = self._pending.get(msg["id"])
                if waiting is not None and not waiting.done():
                    waiting.set_result(msg)
        except (CommClosedError, OSError):
            pass
        finally:
            for waiting in self._pending.values():
                if not waiting.done():
                    waiting.set_result({"status": "error", "message": f"host {self.name} left the relay"})

    def close(self) -> None:
        self.comm.abort()


class RoleRelay:
    """The scheduler's relay: host name -> its line; `call` forwards one request and waits for its answer."""

    def __init__(self, scheduler: Any):
        self.scheduler = scheduler
        self.lines: dict[str, HostLine] = {}

    def install(self) -> "RoleRelay":
        self.scheduler.handlers[ATTACH] = self.attach
        self.scheduler.handlers[CALL] = self.call
        self.scheduler.fedpe_relay = self
        return self

    async def attach(self, comm: Any, **_: Any) -> None:
        peer = comm.peer
        if not peer.is_host:
            comm.abort()
            return
        old = self.lines.get(peer.name)
        if old is not None:  # a host that reconnects replaces its old line
            old.close()
        line = self.lines[peer.name] = HostLine(peer.name, comm)
        logger.info("host %s attached to the relay", peer.name)
        try:
            await line.serve()
        finally:
            if self.lines.get(peer.name) is line:
                del self.lines[peer.name]

    async def call(self, comm: Any, to: str = "", execution: str = "", role: str = "", method: str = "",
                   payload: bytes = b"", timeout_s: float = 30.0, **_: Any) -> dict:
        caller = comm.peer
        line = self.lines.get(to)
        if line is None:
            return {"status": "error", "message": f"host {to} is not connected"}
        wait = min(max(float(timeout_s), 0.1), MAX_WAIT_S)
        answer = await line.ask({"caller": caller.name, "caller_kind": caller.kind, "execution": execution,
                                 "role": role, "method": method, "payload": payload}, wait)
        return {k: answer[k] for k in ("status", "payload", "message") if k in answer}


def disconnect(relay: RoleRelay, name: str) -> None:
    """Drop host `name`'s line (its certificate was revoked)."""
    line = relay.lines.pop(name, None)
    if line is not None:
        line.close()
