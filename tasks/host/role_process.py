"""The worker's side of a host's roles: it starts the role process, passes calls to it, and ends it.

A role reaches a host as the Dask task `run_role(spec)` (tasks/host/runtime.py), which lands
here. The role itself runs in a child process of the worker (`python -m tasks.host.role_main`),
started for the first role and ended `FEDPE_ROLE_LINGER_S` seconds (30 by default) after the
last one, so an idle host holds only its worker: what roles load (pandas, pyarrow,
scikit-learn, the data, the models, about 90 MiB) leaves with the process. Executions that
follow one another within the linger (a pipeline's steps, a researcher's next run) find it
warm. The same shape as Flower's process isolation of a ClientApp, kept warm between runs.

The worker keeps its line to the relay and the comms of the server role's calls to its
clients. Calls to a role that reach the worker over the relay line are passed to the role
process as they came (the caller named by the relay, the payload unread); the role process's
calls to its peers are made here, for the role's own execution and to the hosts its spec names
only. The link carries plain msgpack (tasks/host/role_link.py). The role process runs as the
same user as the worker and reads the policy the worker read at its start (passed to it, not
read again). The split isolates memory and the worker's comms from role code; it is not a
privilege boundary: run hosts as a user of their own.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import subprocess
import sys
from dataclasses import dataclass, field
from typing import Any

from fedpe.errors import RoleFailed, RoleRefused
from tasks.host.relay_line import RelayLine
from tasks.host.role_link import ROLE_START_WAIT_S, Link, LinkClosed, group_of, no_role_answer
from tasks.wire import codec
from tasks.wire.identity import Identity

logger = logging.getLogger("fedpe.role_process")

#: Seconds an idle role process waits for the next role before it ends.
DEFAULT_LINGER_S = 30.0
STOP_GRACE_S = 10.0
#: Roles whose role process ended under them, kept (the newest) to answer the coordinator's poll.
ENDED_KEPT = 256


@dataclass
class LiveRole:
    """A role running in the role process, as the worker knows it: whom it may call, and the
    comms of its calls (opened by the first call to each host, closed with the role)."""

    execution: str
    peers: frozenset[str]
    comms: dict[str, Any] = field(default_factory=dict)

    def close_comms(self) -> None:
        for peer in self.comms.values():
            peer.close()
        self.comms.clear()


def linger_s() -> float:
    try:
        return max(0.0, float(os.environ.get("FEDPE_ROLE_LINGER_S", DEFAULT_LINGER_S)))
    except ValueError:
        return DEFAULT_LINGER_S


class RoleProcess:
    """One per host worker: its relay line, and the role process while roles run (and a while after)."""

    def __init__(self, worker, *, name: str, policy=None):
        self.worker = worker
        self.name = name
        self.policy = policy
        self.linger_s = linger_s()
        self.closed = False
        self.link: Link | None = None
        self.process: asyncio.subprocess.Process | None = None
        self._runs = 0
        self._lock = asyncio.Lock()  # one start or stop at a time
        self._linger: asyncio.TimerHandle | None = None
        self._live: dict[str, LiveRole] = {}  # by `group_of(execution, task)`
        self._ended: dict[str, str] = {}  # group -> how its role process ended under it
        self._link_up = asyncio.Event()  # clear while a role process is being started
        self._link_up.set()

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        return self.worker.loop.asyncio_loop

    def install(self) -> "RoleProcess":
        """Open the host's line to the relay (called on the worker's event loop, before it takes work)."""
        self.line = RelayLine(self.worker.scheduler.address, self.worker.connection_args, self.dispatch)
        self.line.start()
        self.worker.fedpe_runtime = self
        return self

    def live_roles(self) -> int:
        return self._runs

    # -- the role process's life --------------------------------------------------------------
    def _child_env(self) -> dict[str, str]:
        """The worker's environment, with the policy as the worker read it (a file edited since
        must not make the role process decide otherwise than the host advertises)."""
        env = {k: v for k, v in os.environ.items() if k != "FEDPE_HOST_POLICY"}
        if self.policy is not None:
            env["FEDPE_HOST_POLICY_JSON"] = self.policy.model_dump_json()
        return env

    async def _started(self) -> Link:
        async with self._lock:
            if self.closed:
                raise LinkClosed(f"host {self.name} is closing")
            if self.link is not None and not self.link.closed.is_set():
                return self.link
            await self._reap()
            self._link_up.clear()
            try:
                return await self._start_process()
            finally:
                self._link_up.set()

    async def _start_process(self) -> Link:
        ours, theirs = socket.socketpair()
        try:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "tasks.host.role_main", str(theirs.fileno()), self.worker.address,
                pass_fds=(theirs.fileno(),), stdin=subprocess.DEVNULL, env=self._child_env())
        except BaseException:
            ours.close()
            raise
        finally:
            theirs.close()
        reader, writer = await asyncio.open_unix_connection(sock=ours)
        self.link = Link(reader, writer, {"peer": self._peer, "peers_close": self._peers_close,
                                          "scheduler": self._scheduler})
        self.loop.create_task(self.link.serve())
        return self.link

    async def _reap(self) -> None:
        """Close the link and wait for the process to end (killed after STOP_GRACE_S)."""
        if self.link is not None:
            self.link.close()
            self.link = None
        process, self.process = self.process, None
        if process is None:
            return
        try:
            await asyncio.wait_for(process.wait(), STOP_GRACE_S)
        except asyncio.TimeoutError:
            process.kill()
            await process.wait()

    def _idle(self) -> None:
        if self._runs == 0 and self.link is not None:
            self.loop.create_task(self._retire())

    async def _retire(self) -> None:
        async with self._lock:
            if self._runs == 0:
                await self._reap()

    async def close(self) -> None:
        """End the role process now (the worker is closing); no role starts after this."""
        self.closed = True
        if self._linger is not None:
            self._linger.cancel()
        self.line.close()
        async with self._lock:
            await self._reap()

    # -- a role (its Dask task's thread, then the worker's loop) ---------------------------------
    def run(self, raw_spec: dict) -> str:
        """Run one role in the role process to its end; its status (what the Dask task returns)."""
        return asyncio.run_coroutine_threadsafe(self._run(raw_spec), self.loop).result()

    async def _run(self, raw_spec: dict) -> str:
        group = group_of(str(raw_spec.get("execution_id")), str(raw_spec.get("task")))
        self._runs += 1
        if self._linger is not None:
            self._linger.cancel()
        self._live[group] = LiveRole(str(raw_spec.get("execution_id")), frozenset(raw_spec.get("peers") or ()))
        process = None
        try:
            link = await self._started()
            process = self.process
            answer = await link.request("run", spec=codec.encode(raw_spec))  # its params may hold arrays
        except LinkClosed as exc:
            message = f"the role process of host {self.name} ended while it ran {raw_spec.get('task')} " \
                      f"({await self._how_it_ended(process)}; {exc})"
            self._ended[group] = message
            if len(self._ended) > ENDED_KEPT:
                del self._ended[next(iter(self._ended))]  # the oldest
            raise RoleFailed(message) from None
        finally:
            self._runs -= 1
            self._live.pop(group).close_comms()
            if self._runs == 0:
                self._linger = self.loop.call_later(self.linger_s, self._idle)
        if answer.get("status") == "OK":
            return str(answer.get("outcome"))
        if answer.get("code") == RoleRefused.code:
            raise RoleRefused(str(answer.get("message")))
        raise RoleFailed(str(answer.get("message")))

    @staticmethod
    async def _how_it_ended(process: asyncio.subprocess.Process | None) -> str:
        """"killed by signal 9" or "exit code 1": what an operator reads first (the OOM killer's
        signal is 9), once the process has been reaped (2 s at most)."""
        if process is None:
            return "exit code unknown"
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(process.wait(), 2.0)
        code = process.returncode
        return "exit code unknown" if code is None else f"killed by signal {-code}" if code < 0 else f"exit code {code}"

    async def _without_process(self, caller: Identity, execution: str, role: str, method: str) -> dict:
        """The answer to a call no role process can take. The coordinator's poll of a role whose
        process ended under it learns that the role is done, failed, and how (its `_run` knows
        within about 2 s, once the process is reaped); anything else is a host without the role."""
        group = group_of(execution, role)
        if method == "poll" and caller.kind == "coordinator":
            deadline = self.loop.time() + 3.0
            while group not in self._ended and group in self._live and self.loop.time() < deadline:
                await asyncio.sleep(0.05)
            if group in self._ended:
                return {"status": "OK", "payload": codec.encode({
                    "known": True, "events": [], "done": True, "result": {"ok": False, "error": self._ended[group]}})}
        return no_role_answer(self.name, caller, execution, role, method)

    # -- calls to the roles (from the relay line) ---------------------------------------------
    async def dispatch(self, caller: Identity, execution: str, role: str, method: str, payload: bytes) -> dict:
        """The role process's answer to one role call, or what a host without that role answers."""
        if group_of(execution, role) in self._ended:
            return await self._without_process(caller, execution, role, method)
        if not self._link_up.is_set():  # a role process is starting: its calls wait for it, as for the role
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._link_up.wait(), ROLE_START_WAIT_S)
        link = self.link
        if link is None or link.closed.is_set():
            return await self._without_process(caller, execution, role, method)
        try:
            return await link.request("call", caller_kind=caller.kind, caller=caller.name, execution=execution,
                                      role=role, method=method, payload=payload)
        except LinkClosed:
            return await self._without_process(caller, execution, role, method)
        except Exception as exc:  # FrameRefused and the like: an error answer, never a silent caller
            return {"status": "error", "message": f"{type(exc).__name__}: {exc}"[:2000]}

    # -- what the role process asks of the worker -----------------------------------------------
    async def _peer(self, message: dict) -> dict:
        """A server role's call to one of its clients, made with the host's certificate."""
        from tasks.wire.calls import CallError, Peer

        group, to, execution = str(message.get("group")), str(message.get("to")), str(message.get("execution"))
        live = self._live.get(group)
        if live is None or to not in live.peers or execution != live.execution:
            return {"status": "error", "message": f"host {to} is not a peer of role {group} on {self.name}"}
        if to not in live.comms:
            live.comms[to] = Peer(to, self.worker.scheduler.address, self.worker.connection_args)
        peer = live.comms[to]
        try:
            payload = await peer.call_raw(execution, str(message.get("role")), str(message.get("method")),
                                          message.get("payload", b"\xc0"))
        except CallError as exc:
            return {"status": "error", "message": str(exc)}
        finally:
            if self._live.get(group) is not live:  # the role ended meanwhile: its comms went with it
                peer.close()
        return {"status": "OK", "payload": payload}

    async def _peers_close(self, message: dict) -> dict:
        live = self._live.get(str(message.get("group")))
        if live is not None:
            live.close_comms()
        return {"status": "OK"}

    async def _scheduler(self, message: dict) -> dict:
        identity = await self.worker.scheduler.identity()
        return {"status": "OK", "detail": f"{identity.get('address')} with {len(identity.get('workers', {}))} workers"}
