"""A host's line to the role relay: the one way role calls reach it, over a connection it opened.

The host dials the scheduler, says `fedpe-relay-attach`, and from then on reads requests
(`{"id", "caller", "caller_kind", "execution", "role", "method", "payload"}`) and writes
answers (`{"id", "status", "payload"|"message"}`). The caller's identity is the scheduler's
word, taken from the caller's certificate (fedpe/stack/relay.py); the runtime decides on it
(tasks/host/runtime.py). The line is dialed again, with a growing pause, whenever it drops.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Awaitable, Callable

from tasks.wire.identity import Identity

logger = logging.getLogger("fedpe.relay")

ATTACH = "fedpe-relay-attach"
Dispatch = Callable[[Identity, str, str, str, bytes], Awaitable[dict]]


class RelayLine:
    """Keeps the host's line to the scheduler open and answers what comes in on it."""

    def __init__(self, scheduler_address: str, connection_args: dict, dispatch: Dispatch):
        self.scheduler_address = scheduler_address
        self.connection_args = connection_args
        self.dispatch = dispatch
        self.comm: Any = None
        self._closed = False
        self._task: asyncio.Task | None = None
        self.attached = asyncio.Event()

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self.run())

    async def run(self) -> None:
        from distributed.comm import connect

        pause = 0.2
        while not self._closed:
            try:
                comm = await connect(self.scheduler_address, timeout=10, **self.connection_args)
                await comm.write({"op": ATTACH, "reply": False})
                self.comm, pause = comm, 0.2
                self.attached.set()
                await self._serve(comm)
            except (OSError, asyncio.TimeoutError) as exc:
                logger.debug("relay line down: %s", exc)
            finally:
                self.attached.clear()
            if not self._closed:
                await asyncio.sleep(pause)
                pause = min(pause * 2, 5.0)

    async def _serve(self, comm: Any) -> None:
        write = asyncio.Lock()
        while True:
            request = await comm.read()
            asyncio.get_running_loop().create_task(self._answer(comm, write, request))

    async def _answer(self, comm: Any, write: asyncio.Lock, request: dict) -> None:
        caller = Identity(request.get("caller_kind") if request.get("caller_kind") in ("coordinator", "host")
                          else "unknown", str(request.get("caller", "")))
        answer = await self.dispatch(caller, str(request.get("execution", "")), str(request.get("role", "")),
                                     str(request.get("method", "")), request.get("payload", b"\xc0"))
        try:
            async with write:
                await comm.write({"id": request.get("id"), **answer})
        except OSError:  # the line dropped; the caller hears of it from the relay
            pass

    def close(self) -> None:
        self._closed = True
        if self.comm is not None:
            self.comm.abort()
        if self._task is not None:
            self._task.cancel()
