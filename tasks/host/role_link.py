"""The link between a host's worker and its role process: requests both ways over one socket pair.

Roles do not run in the host's Dask worker. They run in a child process of it
(tasks/host/role_main.py), so that what a role loads (pandas, pyarrow, scikit-learn, the data,
the model) leaves the host when the process does, and the process that holds the host's
certificate never runs a role. The two ends talk over a socket pair, each frame a 4-byte length
and a msgpack map, with plain data and `bytes` only (role-call payloads stay in fedpe's codec,
opaque to the worker): nothing on this link is unpickled either.

A request is `{"id", "op", ...}`; its answer is `{"re": id, ...}`; `{"op": "cancel", "id"}`
cancels a request the other end is still handling. Each end registers the ops it answers.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import struct
from typing import Any, Awaitable, Callable

import msgpack

from tasks.wire import codec
from tasks.wire.strict import MAX_MESSAGE_BYTES

logger = logging.getLogger("fedpe.role_link")

Handler = Callable[[dict], Awaitable[dict]]
_LENGTH = struct.Struct("!I")
#: One frame at most: a role call's payload is bounded by what the relay passes on
#: (tasks/wire/strict.MAX_MESSAGE_BYTES), and a frame adds the call's few fields to it.
MAX_FRAME_BYTES = MAX_MESSAGE_BYTES + 1024**2


class LinkClosed(ConnectionError):
    """The other end of the link is gone (the process ended, or the link was closed)."""


class FrameRefused(ValueError):
    """A message that cannot go over the link (too large, or not plain msgpack data): only its
    own request fails, never the link."""


class Link:
    """One end of the worker <-> role process link, on one event loop."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, handlers: dict[str, Handler]):
        self.reader = reader
        self.writer = writer
        self.handlers = handlers
        self._ids = itertools.count(1)
        self._waiting: dict[int, asyncio.Future] = {}
        self._handling: dict[int, asyncio.Task] = {}
        self._write = asyncio.Lock()
        self.closed = asyncio.Event()

    async def _send(self, message: dict) -> None:
        try:
            frame = msgpack.packb(message, use_bin_type=True)
        except (TypeError, ValueError, OverflowError) as exc:
            raise FrameRefused(f"a message the role link cannot carry: {exc}") from None
        if len(frame) > MAX_FRAME_BYTES:
            raise FrameRefused(f"a message of {len(frame)} bytes is over the role link's limit of {MAX_FRAME_BYTES}")
        async with self._write:
            self.writer.write(_LENGTH.pack(len(frame)))
            self.writer.write(frame)
            await self.writer.drain()

    async def request(self, op: str, **fields: Any) -> dict:
        """Send one request and wait for its answer; LinkClosed if the other end goes away first."""
        if self.closed.is_set():
            raise LinkClosed("the role process link is closed")
        ident = next(self._ids)
        answer = asyncio.get_running_loop().create_future()
        self._waiting[ident] = answer
        try:
            await self._send({"id": ident, "op": op, **fields})
            return await answer
        except asyncio.CancelledError:
            if not self.closed.is_set():
                asyncio.get_running_loop().create_task(self._cancel(ident))
            raise
        except (OSError, RuntimeError) as exc:  # a broken pipe, a closed transport
            raise LinkClosed(f"the role process link broke: {exc}") from None
        finally:
            self._waiting.pop(ident, None)

    async def _cancel(self, ident: int) -> None:
        try:
            await self._send({"id": ident, "op": "cancel"})
        except (OSError, RuntimeError):
            pass

    async def serve(self) -> None:
        """Read frames until the other end closes; then fail whatever still waits for an answer."""
        try:
            while True:
                head = await self.reader.readexactly(_LENGTH.size)
                (size,) = _LENGTH.unpack(head)
                if size > MAX_FRAME_BYTES:
                    raise LinkClosed(f"a frame of {size} bytes is over the link's limit")
                message = msgpack.unpackb(await self.reader.readexactly(size), raw=False, strict_map_key=False)
                if not isinstance(message, dict):
                    raise LinkClosed(f"a frame that is not a map: {type(message).__name__}")
                self._take(message)
        except (asyncio.IncompleteReadError, ConnectionError, OSError, ValueError) as exc:
            logger.debug("role link ended: %s", exc)
        finally:
            self.close()

    def _take(self, message: dict) -> None:
        if "re" in message:
            waiting = self._waiting.get(message["re"])
            if waiting is not None and not waiting.done():
                waiting.set_result({k: v for k, v in message.items() if k != "re"})
            return
        ident, op = message.get("id"), message.get("op")
        if op == "cancel":
            task = self._handling.get(ident)
            if task is not None:
                task.cancel()
            return
        task = asyncio.get_running_loop().create_task(self._handle(ident, op, message))
        self._handling[ident] = task

    async def _handle(self, ident: int, op: str, message: dict) -> None:
        handler = self.handlers.get(op)
        try:
            answer = await handler(message) if handler else {"status": "error", "message": f"no op {op!r} on this end"}
        except asyncio.CancelledError:
            answer = {"status": "error", "message": "cancelled"}
        except Exception as exc:  # an error answer, never a broken link
            logger.exception("role link op %s failed", op)
            answer = {"status": "error", "message": f"{type(exc).__name__}: {exc}"[:2000]}
        finally:
            self._handling.pop(ident, None)
        try:
            await self._send({"re": ident, **answer})
        except FrameRefused as exc:  # the answer cannot travel: say so, in its place
            await self._send({"re": ident, "status": "error", "message": str(exc)[:2000]})
        except (OSError, RuntimeError):
            pass

    def close(self) -> None:
        if self.closed.is_set():
            return
        self.closed.set()
        for task in list(self._handling.values()):
            task.cancel()
        for waiting in list(self._waiting.values()):
            if not waiting.done():
                waiting.set_exception(LinkClosed("the role process ended"))
        try:
            self.writer.close()
        except RuntimeError:  # its loop is gone
            pass


#: How long a peer's call to a role still starting on its host waits for it, on the worker (for the
#: role process) and then in the role process (for the role), before the host answers that no such
#: role runs: a server asks its clients as their roles come up (it asked again every 0.1 s before).
ROLE_START_WAIT_S = 1.0


def no_role_answer(host: str, caller, execution: str, role: str, method: str) -> dict:
    """What a host answers a role call for a role it does not run (the same from both ends):
    the coordinator's poll learns the role is unknown; anything else is an error."""
    if method == "poll":
        if caller.kind != "coordinator":
            return {"status": "error", "message": f"{caller} may not poll roles"}
        return {"status": "OK", "payload": codec.encode({"known": False})}
    return {"status": "error", "message": f"no role {role} of execution {execution} runs on {host}"}


def group_of(execution_id: str, task: str) -> str:
    """The name of one role's peer calls on the worker (its comms open with its calls, close with it)."""
    return f"{execution_id}/{task}"
