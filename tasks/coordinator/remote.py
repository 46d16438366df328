"""The coordinator's side of a role: start it on its host, follow it, bring its outputs home.

A flow (in the runner, holding the coordinator's certificate and the services' credentials)
starts each role as a plain Dask task pinned to its host (`RemoteRoles.start`, no Prefect on the
host), then follows it in one Prefect task per role (`follow_role`: the Prefect UI and FEM's
status list show one task run per role and host, named `{task}[{host}]`). Following is
polling the host's role runtime: each poll brings the role's new events (log lines go to the
Prefect task run's log, files to the store, rounds to the reporter) and takes the execution's
control flags (stop, pause, cancel) to the role. The Dask task's own result is never gathered:
nothing a host returns is unpickled here.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from fedpe.errors import RoleFailed, RoleLost
from tasks.audit import head_text, parse_head
from tasks.conventions import AUDIT_DIR, REPORTS_DIR, report_file
from tasks.host.specs import RoleSpec
from tasks.wire.calls import CallError, Peer

if TYPE_CHECKING:
    import distributed

    from blocks.store import StoreSpec

logger = logging.getLogger("fedpe.remote")

#: How long a role may take to appear on its host once its Dask task is placed.
START_TIMEOUT_S = 120.0
#: Consecutive failed polls (about POLL_TIMEOUT_S each) after which a host counts as lost.
POLL_FAILURES = 3
POLL_TIMEOUT_S = 10.0
POLL_WAIT_S = 0.5
#: The same for a role its server role leads (a client): it hears its stop and leave from that
#: server, so its poll can wait longer for news (a poll answers at once when there is some). At
#: 0.5 s, 50 idle clients cost 100 polls a second, each through the relay, the worker and the
#: role process.
LED_POLL_WAIT_S = 4.0
_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING, "error": logging.ERROR}


@dataclass
class RoleRun:
    """One role placed on its host: its spec, its Dask future and how to reach it."""

    spec: RoleSpec
    future: Any
    poller: Peer
    caller: Peer
    #: time.monotonic() after which following gives up (set when the rest of the execution is done).
    deadline: float | None = None

    @property
    def host(self) -> str:
        return self.spec.host

    @property
    def task(self) -> str:
        return self.spec.task


def _host_lost(run: RoleRun) -> RoleLost:
    """The role's Dask task ended on its host without the role's result (status lost, cancelled
    or error)."""
    return RoleLost(f"{run.task} on {run.host}: its host lost the role ({run.future.status})", field="hosts")


class RemoteRoles:
    """The roles of one flow run: placed through the coordinator's Dask client, followed by polls."""

    def __init__(self, client: "distributed.Client", store: "StoreSpec", control=None):
        self.client = client
        self.store = store
        self.watcher = control  # a ControlWatcher (tasks/coordinator/control.py), or None
        self.relay = client.scheduler.address  # hosts are reached through the scheduler's relay, by name
        self.connection_args = client.connection_args
        self.loop = client.loop.asyncio_loop
        self.runs: dict[tuple[str, str], RoleRun] = {}

    def _peer(self, host: str) -> Peer:
        return Peer(host, self.relay, self.connection_args, timeout_s=POLL_TIMEOUT_S)

    def start(self, spec: RoleSpec) -> RoleRun:
        """Place the role's Dask task on its host now (no Prefect task run is waited for)."""
        from tasks.host.runtime import run_role

        future = self.client.submit(run_role, spec.model_dump(mode="python"), key=f"{spec.task}-{spec.execution_id}-"
                                    f"{spec.host}", workers=[spec.host], allow_other_workers=False, pure=False,
                                    retries=0)
        run = RoleRun(spec, future, self._peer(spec.host), self._peer(spec.host))
        self.runs[(spec.host, spec.task)] = run
        return run

    def _sync(self, coro, timeout_s: float):
        import asyncio

        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout_s + 5)

    def call(self, run: RoleRun, method: str, value: Any = None, timeout_s: float = 30.0) -> Any:
        """A role's coordinator method (for example fed-stats' `edges`)."""
        return self._sync(run.caller.call(run.spec.execution_id, run.task, method, value, timeout_s), timeout_s)

    def give_up_after(self, seconds: float) -> None:
        """Stop following every role still running `seconds` from now (the execution is done)."""
        deadline = time.monotonic() + seconds
        for run in self.runs.values():
            run.deadline = deadline if run.deadline is None else min(run.deadline, deadline)

    def follow(self, run: RoleRun, on_event: Callable[[dict], None]) -> dict:
        """Poll the role until it ends; returns its result or raises RoleFailed / RoleLost."""
        spec, cursor, known, failures = run.spec, 0, False, 0
        wait_s = LED_POLL_WAIT_S if spec.server is not None else POLL_WAIT_S
        started = time.monotonic()
        while True:
            if run.deadline is not None and time.monotonic() > run.deadline:
                raise RoleLost(f"{run.task} on {run.host} did not end with its execution", field="hosts")
            if run.future.status in ("lost", "cancelled"):
                raise _host_lost(run)
            # The role's Dask task failed on a live host: one last poll asks the host how (its role
            # process may have died under it); without that answer the role counts as lost.
            lost = run.future.status == "error"
            try:
                answer = self._sync(run.poller.call(spec.execution_id, run.task, "poll", {
                    "cursor": cursor, "control": self.watcher.flags() if self.watcher else {},
                    "wait_s": 0 if lost else wait_s}, POLL_TIMEOUT_S), POLL_TIMEOUT_S)
            except (CallError, TimeoutError) as exc:
                if lost:
                    raise _host_lost(run) from None
                failures += 1
                if failures >= POLL_FAILURES:
                    raise RoleLost(f"{run.task} on {run.host}: the host stopped answering ({exc})",
                                   field="hosts") from None
                time.sleep(0.2)
                continue
            failures = 0
            if lost and not (answer.get("known") and answer.get("done")):
                raise _host_lost(run)
            if not answer.get("known"):
                if known:
                    raise RoleLost(f"{run.task} on {run.host} ended without handing over its results", field="hosts")
                if time.monotonic() - started > START_TIMEOUT_S:
                    raise RoleLost(f"{run.task} did not start on {run.host} within {START_TIMEOUT_S:.0f} s",
                                   field="hosts")
                time.sleep(0.05)
                continue
            known = True
            for event in answer["events"]:
                on_event(event)
                cursor = int(event["seq"]) + 1
            if answer["done"]:
                try:  # acknowledge: the role may leave its host now
                    self._sync(run.poller.call(spec.execution_id, run.task, "poll",
                                               {"cursor": cursor, "wait_s": 0}, POLL_TIMEOUT_S), POLL_TIMEOUT_S)
                except (CallError, TimeoutError):
                    pass
                result = answer["result"] or {}
                if result.get("audit_head"):  # the host's log as it stood: recorded off the host
                    on_event({"kind": "audit_head", "head": result["audit_head"], "task": run.task})
                if not result.get("ok"):
                    raise RoleFailed(result.get("error") or f"{run.task} failed on {run.host}",
                                     field=result.get("field"), details={"host": run.host, "code": result.get("code")})
                return result.get("result") or {}

    def close(self) -> None:
        if self.watcher is not None:
            self.watcher.close()
        for run in self.runs.values():
            self.loop.call_soon_threadsafe(run.poller.close)
            self.loop.call_soon_threadsafe(run.caller.close)
            run.future.release()


class Relay:
    """What the coordinator does with a role's events: logs, files, and the tool's own kinds."""

    def __init__(self, store: "StoreSpec", execution_id: str, host: str, handlers: dict[str, Callable] | None = None):
        self.store = store
        self.execution_id = execution_id
        self.host = host
        self.handlers = handlers or {}
        self.log = None

    def __call__(self, event: dict) -> None:
        kind = event.get("kind")
        if kind == "log":
            (self.log or logger).log(_LEVELS.get(event.get("level"), logging.INFO), "%s", event.get("message"))
        elif kind == "file":
            data, name = event.get("data"), event.get("name")
            if not isinstance(data, bytes) or not isinstance(name, str):  # bytes(n) of an int would allocate n
                (self.log or logger).warning("host %s sent a file event without bytes and a name", self.host)
                return
            self.store.write_bytes(data, self.execution_id, self.host, name)
        elif kind == "audit_head":
            self.write_audit_head(str(event.get("task")), event.get("head"))
        elif kind in self.handlers:
            self.handlers[kind](event)

    def write_audit_head(self, task_id: str, head: object) -> None:
        """The head of the host's audit log when the role ended (`fedpe host audit --expect SEQ:HASH`);
        a head that is not one (tasks.audit.parse_head's rule) is logged and not kept."""
        try:
            expect = head_text(head) if isinstance(head, dict) else ""
            parsed = parse_head(expect)
        except (KeyError, ValueError):
            (self.log or logger).warning("host %s sent an audit head that is not SEQ:HASH", self.host)
            return
        self.store.write_bytes(json.dumps({"host": self.host, "task": task_id, **parsed, "expect": expect}).encode(),
                               self.execution_id, AUDIT_DIR, report_file(self.host, task_id))

    def write_report(self, task_id: str, usage: dict | None) -> None:
        """The role's resource report, as the host measured it."""
        if usage:
            self.store.write_bytes(json.dumps(usage, indent=2, default=float).encode(), self.execution_id,
                                   REPORTS_DIR, report_file(self.host, task_id))


@task(persist_result=False, cache_policy=NO_CACHE, retries=0)
def follow_role(task_id: str, host: str, roles: RemoteRoles, run: RoleRun, relay: Relay) -> dict:
    """Follow one role on its host to its end, bringing its logs and outputs home."""
    relay.log = get_run_logger()
    result = roles.follow(run, relay)
    relay.write_report(task_id, result.get("usage"))
    return result


def follow(roles: RemoteRoles, run: RoleRun, relay: Relay):
    """Submit `follow_role` for `run` under the role's own task name (`{task}[{host}]`)."""
    from prefect.utilities.annotations import quote

    # quote: Prefect must not walk these objects (a Dask client, futures, arrays) for futures.
    return follow_role.with_options(name=run.task, task_run_name=f"{run.task}[{run.host}]").submit(
        task_id=run.task, host=run.host, roles=quote(roles), run=quote(run), relay=quote(relay))
