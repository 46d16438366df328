"""Executions: flow runs of the tools, read as FEM's status list, details, reports and logs,
and changed by control, rename, delete and clone. Only the owner and admins may touch one.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from pydantic import TypeAdapter

from fedpe.api import status as fem
from fedpe.api.services import tools
from fedpe.api.services.orchestrator import Orchestrator, parse_execution_id
from fedpe.api.services.outputs import Outputs
from fedpe.api.services.scheduler import Scheduler
from fedpe.auth.users import User
from fedpe.errors import AuthorizationError, Conflict, InvalidArgument, JobNotFound
from fedpe.schemas import EXECUTION_CONTROLS, TaskStatus
from flows.conventions import control_event_name, parse_task_run_name, report_file
from tasks.rounds import RoundRecord, rounds_csv

logger = logging.getLogger("fedpe.api.executions")

#: Several clients polling one execution share one read of Prefect within this window.
SNAPSHOT_TTL_S = 0.5
FINAL_SNAPSHOT_TTL_S = 5.0
#: Past its TTL and younger than this, a snapshot is answered at once while one background read
#: renews it (stale-while-revalidate): pollers never queue behind a Prefect read that a busy
#: server answers in hundreds of ms, and what they see is at most one read behind.
STALE_SNAPSHOT_S = 10.0
LIST_CAP = 2000
_LEVELS = {"DEBUG": 10, "INFO": 20, "WARNING": 30, "WARN": 30, "ERROR": 40, "CRITICAL": 50}
SORTS = ("created_at", "started_at", "ended_at", "name", "status", "tool", "owner")


def _iso(value) -> str | None:
    return value.isoformat() if value else None


def _type(state_type) -> str:
    return str(getattr(state_type, "value", state_type) or "")

#: The status list's schema, serialised once per snapshot (`Snapshot.status_json`).
_STATUS_LIST = TypeAdapter(list[TaskStatus])


@dataclass
class Snapshot:
    """One read of an execution from Prefect: its flow run, sub-runs and role task runs."""

    flow_run: Any
    owner: str
    tool: str
    children: list = field(default_factory=list)
    task_runs: list = field(default_factory=list)
    read_at: float = 0.0

    @property
    def id(self) -> str:
        return str(self.flow_run.id)

    @property
    def state_type(self) -> str:
        return _type(self.flow_run.state_type)

    @property
    def final(self) -> bool:
        return fem.is_final(self.state_type)

    @property
    def status(self) -> str:
        return fem.status_of(self.state_type)

    def roles(self) -> list[tuple[str, str, Any]]:
        """(task id, host, task run) of every role's task run (others have no `task[host]` name)."""
        out = []
        for run in self.task_runs:
            parsed = parse_task_run_name(run.name)
            if parsed:
                out.append((parsed[0], parsed[1], run))
        return out

    def status_list(self) -> list[dict]:
        slots = fem.expected_slots(self.tool, self.flow_run.parameters or {}, tools.spec_of)
        observed = [fem.Observed(task, host, _type(run.state_type), run.expected_start_time or run.created,
                                 run.end_time) for task, host, run in self.roles()]
        return fem.status_list(slots, observed, self.state_type, tools.roles())

    @functools.cached_property
    def status_json(self) -> bytes:
        """`status_list()` as the status route sends it, made once per read of the execution: FEM
        clients poll it, often many at once, and each answer is the same bytes until the next read."""
        return _STATUS_LIST.dump_json(_STATUS_LIST.validate_python(self.status_list()))

    def hosts(self) -> list[str]:
        return sorted({e["node"] for e in self.status_list() if e["node"] != "*"})


class Executions:
    def __init__(self, orchestrator: Orchestrator, scheduler: Scheduler, outputs: Outputs, mlflow_uri: str | None,
                 jobs=None, submit_tokens=None, prefect_ui_url: str | None = None):
        self.orchestrator = orchestrator
        self.scheduler = scheduler
        self.outputs = outputs
        self.mlflow_uri = mlflow_uri
        self.prefect_ui_url = prefect_ui_url
        self.jobs = jobs
        self.submit_tokens = submit_tokens
        self._cache: dict[str, Snapshot] = {}
        self._inflight: dict[str, asyncio.Future] = {}
        self._renewing: set[asyncio.Task] = set()  # background renewals, held so they are not collected

    # reading ---------------------------------------------------------------------------------

    async def _read(self, execution_id: str) -> Snapshot:
        flow_run = await self.orchestrator.flow_run(execution_id)
        tool = self.orchestrator.tool_of(flow_run)
        if tool is None:
            raise JobNotFound(f"no execution {execution_id}", field="execution_id")  # not a fedpe tool's run
        children = await self.orchestrator.child_runs(flow_run.id) if "steps" in (flow_run.parameters or {}) else []
        task_runs = await self.orchestrator.task_runs([flow_run.id, *(c.id for c in children)])
        owner = await self.orchestrator.owner_of(flow_run)
        return Snapshot(flow_run, owner, tool, children, task_runs, time.monotonic())

    async def snapshot(self, execution_id: str, *, fresh: bool = False) -> Snapshot:
        """The execution, read at most once per SNAPSHOT_TTL_S however many clients poll it."""
        key = str(parse_execution_id(execution_id))
        cached = self._cache.get(key)
        if cached and not fresh:
            age = time.monotonic() - cached.read_at
            if age < (FINAL_SNAPSHOT_TTL_S if cached.final else SNAPSHOT_TTL_S):
                return cached
            if age < STALE_SNAPSHOT_S and not cached.final:
                if key not in self._inflight:
                    task = asyncio.create_task(self._renew(key))
                    self._renewing.add(task)
                    task.add_done_callback(self._renewed)
                return cached
        if key in self._inflight:
            return await asyncio.shield(self._inflight[key])
        return await self._renew(key)

    def _renewed(self, task: asyncio.Task) -> None:
        self._renewing.discard(task)
        if not task.cancelled() and task.exception() is not None:  # the next caller reads again, and sees it
            logger.warning("renewing an execution's snapshot failed: %s", task.exception())

    async def _renew(self, key: str) -> Snapshot:
        """One read of the execution, shared by every caller that asks while it runs."""
        if key in self._inflight:
            return await asyncio.shield(self._inflight[key])
        future = asyncio.get_running_loop().create_future()
        self._inflight[key] = future
        try:
            snap = await self._read(key)
            self._cache[key] = snap
            if len(self._cache) > 5000:
                self._cache.clear()
            future.set_result(snap)
            return snap
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: no "never retrieved" warning when nobody else waits
            raise
        finally:
            del self._inflight[key]

    def forget(self, execution_id: str) -> None:
        self._cache.pop(execution_id, None)

    async def readable(self, execution_id: str, user: User, *, fresh: bool = False) -> Snapshot:
        """The execution if `user` owns it or is an admin: 404 unknown, 403 someone else's."""
        snap = await self.snapshot(execution_id, fresh=fresh)
        if not user.may_read(snap.owner):
            raise AuthorizationError(f"execution {execution_id} belongs to another user", field="execution_id")
        return snap

    async def status(self, execution_id: str, user: User) -> list[dict]:
        return (await self.readable(execution_id, user)).status_list()

    async def status_json(self, execution_id: str, user: User) -> bytes:
        """The status list as JSON, serialised once per read of the execution (`Snapshot.status_json`)."""
        return (await self.readable(execution_id, user)).status_json

    def summary(self, snap: Snapshot) -> dict[str, Any]:
        fr = snap.flow_run
        return {
            "id": snap.id, "execution_id": snap.id, "name": fr.name, "tool": snap.tool, "owner": snap.owner,
            "status": snap.status, "prefect_state": fr.state_name or snap.state_type,
            "created_at": _iso(fr.created), "started_at": _iso(fr.start_time), "ended_at": _iso(fr.end_time),
            "hosts": sorted({*fem_hosts(snap)}),
        }

    async def detail(self, execution_id: str, user: User) -> dict[str, Any]:
        snap = await self.readable(execution_id, user)
        progress, result, history = await asyncio.gather(
            self.outputs.progress(snap.id), self.outputs.result(snap.id), self.outputs.rounds(snap.id))
        progress, result = progress or {}, result or {}
        result.pop("history", None)  # given once, below
        fr = snap.flow_run
        return {
            **self.summary(snap),
            "paused": bool(progress.get("paused")) and not snap.final,
            "stopped_because": result.get("stopped_because"),
            "result": result or None,
            "state_message": fr.state.message if fr.state else None,
            "parameters": fr.parameters,
            "elapsed_s": fr.total_run_time.total_seconds() if fr.total_run_time else None,
            "round": progress.get("round"),
            "rounds": progress.get("rounds"),
            "metrics": progress.get("metrics") or progress.get("latest") or {},
            "history": history,
            "mlflow_run_id": progress.get("mlflow_run_id"),
            "model_uri": progress.get("model_uri"),
            "links": self.links(snap.id, progress.get("mlflow_run_id")),
            "statuses": snap.status_list(),
            "parts": [{"id": str(c.id), "name": c.name, "status": fem.status_of(_type(c.state_type))}
                      for c in snap.children],
        }

    def links(self, execution_id: str, mlflow_run_id: str | None) -> dict[str, str | None]:
        """The execution in the Prefect UI (its flow run) and in the MLflow UI (its run, if any)."""
        prefect = f"{self.prefect_ui_url.rstrip('/')}/runs/flow-run/{execution_id}" if self.prefect_ui_url else None
        mlflow = f"{self.mlflow_uri.rstrip('/')}/#/runs/{mlflow_run_id}" if self.mlflow_uri and mlflow_run_id else None
        return {"prefect_flow_run": prefect, "mlflow_run": mlflow}

    async def metrics(self, execution_id: str, user: User) -> dict[str, Any]:
        """One row per finished round (`tasks.rounds.RoundRecord.row`): its metrics, each client's, who
        took part, who dropped; named by `flat_metrics`, as MLflow names the ones it gets (`tracked_metrics`)."""
        snap = await self.readable(execution_id, user)
        progress, entries = await asyncio.gather(self.outputs.progress(snap.id), self.outputs.rounds(snap.id))
        progress = progress or {}
        rows = [RoundRecord.from_entry(entry).row() for entry in entries]
        return {"execution_id": snap.id, "tool": snap.tool, "status": snap.status, "round": progress.get("round"),
                "rounds": progress.get("rounds"), "mlflow_run_id": progress.get("mlflow_run_id"), "rows": rows}

    async def audit(self, execution_id: str, user: User) -> list[dict[str, Any]]:
        """The heads of the hosts' audit logs as each role ended, kept off the hosts by the coordinator:
        what `fedpe host audit --verify --expect SEQ:HASH` checks a host's log against."""
        snap = await self.readable(execution_id, user)
        return await self.outputs.audit_heads(snap.id)

    async def list(self, user: User, *, status: str | None, tool: str | None, owner: str | None,
                   limit: int, offset: int, sort: str) -> dict[str, Any]:
        if owner and not user.may_read(owner):
            raise AuthorizationError("only admins may list another user's executions", field="owner")
        if not user.is_admin:
            owner = user.name
        if status and status not in fem.STATES_BY_STATUS:
            raise InvalidArgument(f"status: one of {', '.join(fem.STATES_BY_STATUS)}", field="status")
        known = tools.tool_ids()
        if tool and tool not in known:
            raise InvalidArgument(f"tool: one of {', '.join(known)}", field="tool")
        key, _, direction = sort.partition(":")
        if key not in SORTS or direction not in ("", "asc", "desc"):
            raise InvalidArgument(f"sort: <field>[:asc|desc] with field one of {', '.join(SORTS)}", field="sort")
        deployments = await self.orchestrator.deployment_ids([tool] if tool else known)
        if not deployments:
            return {"executions": [], "total": 0, "limit": limit, "offset": offset}
        runs = await self.orchestrator.list_runs(
            deployment_ids=list(deployments.values()),
            state_types=fem.STATES_BY_STATUS[status] if status else None,
            owner_tag=f"fedpe-owner:{owner}" if owner else None, cap=LIST_CAP)
        rows = []
        for run in runs:
            run_tool = self.orchestrator.tool_of(run)
            if run_tool is None:
                continue
            run_owner = await self.orchestrator.owner_of(run)
            if owner and run_owner != owner:
                continue
            rows.append(self.summary(Snapshot(run, run_owner, run_tool)))
        present = [r for r in rows if r[key] is not None]
        present.sort(key=lambda r: r[key], reverse=direction == "desc")
        rows = present + [r for r in rows if r[key] is None]  # runs without the field go last either way
        page = rows[offset:offset + limit]
        for row, progress in zip(page, await asyncio.gather(*(self.outputs.progress(r["id"]) for r in page))):
            row["round"], row["rounds"] = (progress or {}).get("round"), (progress or {}).get("rounds")
        return {"executions": page, "total": len(rows), "limit": limit, "offset": offset}

    async def report(self, execution_id: str, user: User) -> dict[str, Any]:
        snap = await self.readable(execution_id, user)
        reports = await self.outputs.reports(snap.id)
        runs = {(task, host): run for task, host, run in snap.roles()}
        entries = []
        for entry in snap.status_list():
            task, host = entry["task"], entry["node"]
            run = runs.get((task, host))
            role_report = reports.get(report_file(host, task), {})
            status = entry["status"]
            exit_code = 0 if status == "completed" else 1 if status in ("failed", "cancelled") else None
            entries.append({
                "node": host, "task": task, "role": entry["role"], "part": entry["part"], "status": status,
                "exit_code": exit_code,
                "start_time": _iso(run.start_time) if run else None,
                "end_time": _iso(run.end_time) if run else None,
                "elapsed_s": run.total_run_time.total_seconds() if run and run.total_run_time else (
                    run.estimated_run_time.total_seconds() if run and run.estimated_run_time else None),
                "cpu_seconds": role_report.get("cpu_seconds"),
                "rss_peak_bytes": role_report.get("rss_peak_bytes"),
                "role_started_at": role_report.get("started_at"),
                "role_ended_at": role_report.get("ended_at"),
                "measured": bool(role_report),
            })
        fr = snap.flow_run
        cpu = [e["cpu_seconds"] for e in entries if isinstance(e["cpu_seconds"], (int, float))]
        rss = [e["rss_peak_bytes"] for e in entries if isinstance(e["rss_peak_bytes"], (int, float))]
        return {
            "execution_id": snap.id, "tool": snap.tool, "status": snap.status,
            "exit_code": 0 if snap.status == "completed" else 1 if snap.final else None,
            "start_time": _iso(fr.start_time), "end_time": _iso(fr.end_time),
            "elapsed_s": fr.total_run_time.total_seconds() if fr.total_run_time else None,
            "tasks": entries,
            "totals": {"cpu_seconds": round(sum(cpu), 3) if cpu else None,
                       "rss_peak_bytes": max(rss) if rss else None,
                       "tasks": len(entries), "measured_tasks": sum(1 for e in entries if e["measured"])},
            "notes": "cpu_seconds is the role thread's CPU time; rss_peak_bytes the peak RSS of the host's "
                     "role process (roles are threads in it).",
        }

    async def logs(self, execution_id: str, user: User, *, node: str | None, level: str | None,
                   offset: int, limit: int) -> list[dict[str, Any]]:
        snap = await self.readable(execution_id, user)
        by_task_run = {run.id: (task, host) for task, host, run in snap.roles()}
        min_level = None
        if level:
            min_level = _LEVELS.get(level.upper()) if not level.isdigit() else int(level)
            if min_level is None:
                raise InvalidArgument(f"level: one of {', '.join(_LEVELS)} or a number", field="level")
        task_run_ids = None
        if node:
            task_run_ids = [rid for rid, (_, host) in by_task_run.items() if host == node]
            if not task_run_ids:
                return []
        run_ids = [snap.flow_run.id, *(c.id for c in snap.children)]
        logs = await self.orchestrator.logs(run_ids, task_run_ids=task_run_ids, min_level=min_level,
                                            offset=offset, limit=limit)
        out = []
        for log in logs:
            task, host = by_task_run.get(log.task_run_id, (None, None))
            out.append({"timestamp": _iso(log.timestamp), "level": logging.getLevelName(log.level),
                        "node": host, "task": task, "logger": log.name, "message": log.message})
        return out

    # changing --------------------------------------------------------------------------------

    async def cancel(self, execution_id: str, user: User) -> dict[str, Any]:
        """abort = cancel_run: Cancelling for a run that started, Cancelled for one not yet picked up."""
        from prefect.states import Cancelled, Cancelling

        snap = await self.readable(execution_id, user, fresh=True)
        if snap.final:
            return {"status": "success", "execution_id": snap.id, "state": snap.status,
                    "message": f"execution already ended {snap.status}"}
        started = snap.state_type not in ("SCHEDULED",)
        state = Cancelling(message=f"cancelled by {user.name}") if started else Cancelled(
            message=f"cancelled by {user.name} before it started")
        await self.orchestrator.set_state(snap.flow_run.id, state)
        self.forget(snap.id)
        return {"status": "success", "execution_id": snap.id, "state": "cancelling" if started else "cancelled",
                "message": "cancellation requested"}

    async def control(self, execution_id: str, user: User, action: str, reason: str | None) -> dict[str, Any]:
        snap = await self.readable(execution_id, user, fresh=True)
        now = dt.datetime.now(dt.timezone.utc).isoformat()
        if snap.final:  # every action, abort too (FEM's cancel_run stays lenient)
            raise Conflict(f"execution {snap.id} already ended {snap.status}", field="action")
        if action == "abort":
            result = await self.cancel(execution_id, user)
            return {"status": result["state"], "action": action, "message": result["message"], "timestamp": now}
        if action == "pause":
            await self.scheduler.set_event(control_event_name(snap.id, "pause"), True)
            outcome, message = "pausing", "pauses after the current round"
        elif action == "resume":
            await self.scheduler.set_event(control_event_name(snap.id, "pause"), False)
            outcome, message = "resuming", "resumes at the next round"
        elif action == "stop":
            await self.scheduler.set_event(control_event_name(snap.id, "stop"), True)
            outcome, message = "stopping", "stops after the current round, writes its outputs and completes"
        else:
            raise InvalidArgument(f"action: one of {', '.join(EXECUTION_CONTROLS)}", field="action")
        return {"status": outcome, "action": action, "message": message, "reason": reason, "timestamp": now}

    async def rename(self, execution_id: str, user: User, name: str) -> dict[str, Any]:
        snap = await self.readable(execution_id, user)
        await self.orchestrator.rename(snap.flow_run.id, name)
        self.forget(snap.id)
        return self.summary(await self.snapshot(snap.id, fresh=True))

    async def delete(self, execution_id: str, user: User) -> dict[str, Any]:
        """Stop it if it runs, then remove its flow run, its outputs and its MLflow run."""
        snap = await self.readable(execution_id, user, fresh=True)
        progress = await self.outputs.progress(snap.id) or {}
        if not snap.final:
            await self.cancel(execution_id, user)
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline and not (await self.snapshot(snap.id, fresh=True)).final:
                await asyncio.sleep(0.5)
        mlflow_deleted = await self._delete_mlflow_run(progress.get("mlflow_run_id"))
        await self.orchestrator.delete(snap.flow_run.id)
        for child in snap.children:
            await self.orchestrator.delete(child.id)
        outputs_removed = await self.outputs.remove(snap.id)
        tokens = 0
        if self.submit_tokens is not None:
            import anyio

            tokens = await anyio.to_thread.run_sync(self.submit_tokens.forget_execution, snap.id)
        self.forget(snap.id)
        return {"status": "success", "execution_id": snap.id, "outputs_removed": outputs_removed,
                "mlflow_run_deleted": mlflow_deleted, "submit_tokens_deleted": tokens}

    async def _delete_mlflow_run(self, run_id: str | None) -> bool:
        if not run_id or not self.mlflow_uri:
            return False

        def delete() -> bool:
            from mlflow.tracking import MlflowClient  # lazy: importing mlflow costs ~2 s

            client = MlflowClient(tracking_uri=self.mlflow_uri)
            try:
                # The registry's versions of the run's model point at its artifacts: they go too.
                for version in client.search_model_versions(f"run_id='{run_id}'"):
                    client.delete_model_version(version.name, version.version)
                run = client.get_run(run_id)
                for model in client.search_logged_models([run.info.experiment_id],
                                                         filter_string=f"source_run_id='{run_id}'"):
                    client.delete_logged_model(model.model_id)
                client.delete_run(run_id)
                return True
            except Exception:  # an MLflow run already gone is not a reason to keep the rest
                logger.warning("could not delete MLflow run %s and its models", run_id, exc_info=True)
                return False
        import anyio

        return await anyio.to_thread.run_sync(delete)

    async def clone(self, execution_id: str, user: User) -> dict[str, Any]:
        snap = await self.readable(execution_id, user)
        new_id = await self.jobs.submit(user, snap.tool, dict(snap.flow_run.parameters or {}))
        return {"status": "success", "execution_id": new_id, "cloned_from": snap.id}

    async def queue(self) -> dict[str, Any]:
        deployments = list((await self.orchestrator.deployment_ids(tools.tool_ids())).values())
        buckets = {"queued": ["SCHEDULED"], "pending": ["PENDING"],
                   **{s: fem.STATES_BY_STATUS[s] for s in ("running", "completed", "failed", "cancelled")}}
        if not deployments:
            counts = {k: 0 for k in buckets}
        else:
            values = await asyncio.gather(*(self.orchestrator.count_runs(deployment_ids=deployments, state_types=v)
                                            for v in buckets.values()))
            counts = dict(zip(buckets, values))
        return {**counts, "total": sum(counts.values()),
                "is_empty": counts["queued"] + counts["pending"] + counts["running"] == 0}


def fem_hosts(snap: Snapshot) -> list[str]:
    """Hosts an execution names in its parameters (cheap: no task runs needed)."""
    return [s.host for s in fem.expected_slots(snap.tool, snap.flow_run.parameters or {}, tools.spec_of)]


def metrics_csv(rows: list[dict[str, Any]]) -> str:
    """`/metrics` rows as CSV (`tasks.rounds.rounds_csv`): one line per round, the metric
    names (as MLflow's: `accuracy`, `client.HOST.loss`, ...) as columns, then `clients` and `dropped`."""
    return rounds_csv(RoundRecord.from_row(row) for row in rows)
