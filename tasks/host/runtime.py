"""The role runtime of a host: starts roles, answers calls to them, lets the coordinator collect.

It lives in the host's role process (tasks/host/role_main.py), not in the Dask worker: a role
reaches a host as the plain Dask task `run_role(spec)` that the coordinator pins to the host, and
the worker hands the spec over the role link (tasks/host/role_process.py). The runtime checks
the host's policy (tasks/policy.py) and records its decision in the host's audit log before the
role reads anything, then runs the role to its end on a thread of its own. While it runs, the
host answers role calls, which reach the worker over the one line to the scheduler's relay
that it opened itself (tasks/host/relay_line.py; hosts only dial out) and come here as they
came, each naming its caller as the caller's certificate does:

- `poll` (the coordinator only): the role's new events, the coordinator's control flags in;
- a role method (those `Role.methods_for` the caller lists: the role's `COORDINATOR_METHODS` for
  the coordinator, its `PEER_METHODS` for the one host named as its server): the method's
  answer, in the wire codec. The hooks a role has are tasks/host/role.py's.

No role method runs for anyone else, and no payload is ever unpickled (tasks/wire).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from fedpe.errors import FedpeError, RoleRefused
from tasks.audit import AuditLog, audit_path, sha256_of
from tasks.policy import HostPolicy, decide
from tasks.host.context import RoleContext
from tasks.host.specs import RoleSpec
from tasks.host.role_link import ROLE_START_WAIT_S, Link, group_of, no_role_answer
from tasks.host.role import ENDED, Role
from tasks.wire import codec
from tasks.wire.errors import CallError
from tasks.wire.identity import Identity

logger = logging.getLogger("fedpe.runtime")

#: How long a finished role waits for the coordinator to collect its last events.
COLLECT_TIMEOUT_S = 60.0
POLL_WAIT_S = 0.5
#: Calls waiting at once for a role to start (`ROLE_START_WAIT_S` each); more are answered at once.
ROLE_START_WAITERS = 64


def role_classes() -> dict[str, type[Role]]:
    """Task id -> the class that plays it on a host (imported here, on the host, only)."""
    from tasks.host.client import ClientTrainer
    from tasks.host.health import HealthCheck
    from tasks.host.server import FederatedServer
    from tasks.host.stats import LocalStats

    return {cls.TASK_ID: cls for cls in (FederatedServer, ClientTrainer, HealthCheck, LocalStats)}


class WorkerLink:
    """What the roles may ask of their host's worker, over the role link: its address, the
    scheduler's identity (the health check's probe) and calls to the execution's peers."""

    def __init__(self, link: Link, loop: asyncio.AbstractEventLoop, address: str):
        self.link = link
        self.loop = loop
        self.address = address

    def ask(self, op: str, timeout_s: float | None = None, **fields: Any) -> dict:
        """One request to the worker from a role's thread (blocking)."""
        return asyncio.run_coroutine_threadsafe(self.link.request(op, **fields), self.loop).result(timeout_s)

    def scheduler(self) -> str:
        answer = self.ask("scheduler", timeout_s=30)
        if answer.get("status") != "OK":
            raise RuntimeError(answer.get("message") or "the worker did not reach its scheduler")
        return answer["detail"]


class LinkPeers:
    """The server role's clients, called by name through the worker (which alone holds the host's
    comms); the payloads are encoded and decoded here, the worker passes them on unread."""

    def __init__(self, worker: WorkerLink, group: str, names: list[str]):
        self.worker = worker
        self.group = group
        self.names = set(names)

    def __contains__(self, name: str) -> bool:
        return name in self.names

    async def _call(self, name: str, execution_id: str, role: str, method: str, value: Any) -> Any:
        answer = await self.worker.link.request("peer", group=self.group, to=name, execution=execution_id, role=role,
                                                method=method, payload=codec.encode(value))
        if answer.get("status") != "OK":
            raise CallError(answer.get("message") or f"{method} on host {name} failed")
        return codec.decode(answer.get("payload", b"\xc0"))

    def run_many(self, calls: dict[str, tuple[str, str, str, Any]], deadline: float) -> tuple[dict, dict]:
        """Run {host: (execution, role, method, value)} at once; ({host: answer}, {host: reason})."""
        futures = {name: asyncio.run_coroutine_threadsafe(self._call(name, *call), self.worker.loop)
                   for name, call in calls.items()}
        results, missing = {}, {}
        for name, future in futures.items():
            try:
                results[name] = future.result(timeout=max(0.001, deadline - time.monotonic()))
            except TimeoutError:
                future.cancel()  # the worker drops the call too (the link's cancel)
                missing[name] = "timeout"
            except Exception as exc:  # a dead or refusing host is a dropout, not the end of the run
                missing[name] = f"{type(exc).__name__}: {exc}"[:300]
        return results, missing

    def close(self) -> None:
        asyncio.run_coroutine_threadsafe(self.worker.link.request("peers_close", group=self.group), self.worker.loop)


class RoleRuntime:
    """One per role process: the live roles, their call handler, the policy and the audit log."""

    def __init__(self, *, name: str, data_dir: str | Path, policy: HostPolicy | None = None,
                 worker: WorkerLink | None = None):
        self.worker = worker
        self.name = name
        self.data_dir = Path(data_dir)
        self.policy = policy or HostPolicy()
        self.audit = AuditLog(audit_path(self.data_dir))
        self._roles: dict[tuple[str, str], tuple[RoleContext, Any]] = {}
        self._lock = threading.Lock()
        self._calls = ThreadPoolExecutor(16, thread_name_prefix="fedpe-role-call")
        self._polls = ThreadPoolExecutor(64, thread_name_prefix="fedpe-role-poll")
        self._audit = ThreadPoolExecutor(1, thread_name_prefix="fedpe-audit")  # "sent" lines, in the answers' order
        self._loop: asyncio.AbstractEventLoop | None = None  # the calls' loop, once one came
        self._role_started: asyncio.Event | None = None  # set (and replaced) each time a role starts
        self._start_waiters = 0

    # -- running a role (on a thread of its own) ------------------------------------------------
    def run(self, raw_spec: dict) -> str:
        spec = RoleSpec.model_validate(raw_spec)
        if spec.host != self.name:
            raise RoleRefused(f"a role for host {spec.host} reached host {self.name}")
        classes = role_classes()
        if spec.task not in classes:
            raise RoleRefused(f"host {self.name} has no role {spec.task!r}")
        key = (spec.execution_id, spec.task)
        peers = LinkPeers(self.worker, group_of(spec.execution_id, spec.task), spec.peers) if spec.peers else None
        context = RoleContext(spec, data_dir=self.data_dir, audit=self.audit, peers=peers, policy=self.policy,
                              worker=self.worker)
        with self._lock:
            decision = decide(self.policy, self.name, tool=spec.tool, task=spec.task, owner=spec.owner,
                              dataset=spec.dataset, params=spec.params, live_roles=len(self._roles),
                              server=spec.server)
            self._roles[key] = (context, None)  # a refusal too: the coordinator's poll reads it there
        context.record("decision", dataset=spec.dataset, **decision.as_audit())
        if not decision.allowed:
            context.log.error("%s", decision.message)
            return self._end(key, context, "refused", {"ok": False, "error": decision.message,
                                                      "code": "POLICY_REFUSED", "rule": decision.rule})
        if decision.adjustments:
            spec.params.update(decision.adjustments)
            context.log.info("host policy applied: %s", ", ".join(f"{k}={v}" for k, v in decision.adjustments.items()))
        role = None
        try:
            role = classes[spec.task](context)
            with self._lock:
                self._roles[key] = (context, role)
            self._announce_start()
            status, outcome = "completed", {"ok": True, "result": role.run()}
        except Exception as exc:  # the role's failure is its result; it must reach the coordinator
            message = _message(exc)
            logger.exception("role %s of %s failed", spec.task, spec.execution_id)
            context.log.error("%s failed: %s", spec.task, message)
            details = {"code": exc.code, "field": exc.field} if isinstance(exc, FedpeError) else {}
            status, outcome = "failed", {"ok": False, "error": message, **details}
        finally:
            if role is not None:
                role.close()
            if peers is not None:  # the runtime opened them: it closes them
                peers.close()
        return self._end(key, context, status, outcome)

    def _announce_start(self) -> None:
        """Wake the calls waiting for a role to start (from the role's thread)."""
        loop = self._loop
        if loop is not None:
            with contextlib.suppress(RuntimeError):  # its loop has closed: nobody waits any more
                loop.call_soon_threadsafe(self._wake_waiters)

    def _wake_waiters(self) -> None:
        if self._role_started is not None:
            self._role_started.set()
            self._role_started = None

    async def _when_started(self, key: tuple[str, str]) -> tuple[RoleContext, Any] | None:
        """The role's entry once it has started (or ended), waiting ROLE_START_WAIT_S at most."""
        def settled(entry) -> bool:  # its role answers calls, or it has ended (refused, failed)
            return entry is not None and (entry[1] is not None or entry[0].result is not None)

        entry = self._roles.get(key)
        if self._start_waiters >= ROLE_START_WAITERS:
            return entry
        deadline = time.monotonic() + ROLE_START_WAIT_S
        self._start_waiters += 1
        try:
            while not settled(entry):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                if self._role_started is None:
                    self._role_started = asyncio.Event()
                try:
                    await asyncio.wait_for(self._role_started.wait(), remaining)
                except asyncio.TimeoutError:
                    pass
                entry = self._roles.get(key)
        finally:
            self._start_waiters -= 1
        return entry

    def _end(self, key, context: RoleContext, status: str, outcome: dict) -> str:
        """Record the role's end, then hand its outcome, with the audit log's head, to the coordinator."""
        context.record("end", status=status)
        context.finish({**outcome, "audit_head": self.audit.head()})
        self._announce_start()  # a call waiting for this role learns that it ended
        context.collected.wait(COLLECT_TIMEOUT_S)
        with self._lock:
            self._roles.pop(key, None)
        return status

    def live_roles(self) -> int:
        with self._lock:
            return len(self._roles)

    # -- role calls (on the role process's event loop) ----------------------------------------
    async def dispatch(self, caller: Identity, execution: str, role: str, method: str, payload: bytes) -> dict:
        """The answer to one role call from `caller` (as the relay names it), never an exception."""
        try:
            self._loop = asyncio.get_running_loop()
            value = codec.decode(payload)
            entry = self._roles.get((execution, role))
            if method != "poll" and (entry is None or entry[1] is None):
                entry = await self._when_started((execution, role))
            if method == "poll":
                if caller.kind != "coordinator":
                    return {"status": "error", "message": f"{caller} may not poll roles"}
                if entry is None:
                    return no_role_answer(self.name, caller, execution, role, method)
                context = entry[0]
                context.control.update((value or {}).get("control") or {})
                wait = min(float((value or {}).get("wait_s", POLL_WAIT_S)), 5.0)
                answer = await asyncio.get_running_loop().run_in_executor(
                    self._polls, context.take, int((value or {}).get("cursor", 0)), wait)
                return {"status": "OK", "payload": codec.encode(answer)}
            if entry is None or entry[1] is None:
                ended = (entry[0].result or {}).get("error") if entry is not None else None
                if ended:
                    return {"status": "error", "message": f"{ENDED} on {self.name}: {ended}"}
                return no_role_answer(self.name, caller, execution, role, method)
            context, instance = entry
            if method not in instance.methods_for(caller):
                return {"status": "error", "message": f"{caller} may not call {method} of {role} on {self.name}"}
            started = time.perf_counter()
            result = await asyncio.get_running_loop().run_in_executor(self._calls, getattr(instance, method), value)
            answer = codec.encode(result)
            if method in instance.AUDITED_METHODS:  # what leaves the host, written before it leaves (off the loop)
                await asyncio.wrap_future(self._audit.submit(
                    context.record, "sent", to=str(caller), method=method, bytes=len(answer),
                    sha256=sha256_of(answer), ms=round((time.perf_counter() - started) * 1000, 2)))
            return {"status": "OK", "payload": answer}
        except Exception as exc:  # an error answer, never a broken comm
            return {"status": "error", "message": _message(exc)[:2000]}


def _message(exc: Exception) -> str:
    """What a failure says to the coordinator or the caller: fedpe's own message, else the type and text."""
    return exc.message if isinstance(exc, FedpeError) else f"{type(exc).__name__}: {exc}"


def run_role(spec: dict) -> str:
    """The Dask task a role is: runs on its host's worker for the role's whole life, while the
    role itself runs in the host's role process (tasks/host/role_process.py)."""
    from distributed import get_worker, secede

    secede()  # long-lived: must not hold one of the worker's threads
    runtime = getattr(get_worker(), "fedpe_runtime", None)
    if runtime is None:
        raise RoleRefused("this worker has no fedpe role runtime (start hosts with `fedpe host start`)")
    return runtime.run(spec)
