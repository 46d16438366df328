"""Live events of an execution for SSE and the WebSocket: one poller per execution, shared.

Events: ``status`` (the overall state, whether the rounds are paused, and the status list, when
any of it changes), ``round`` (one per finished round: its number, metrics, clients and dropouts,
from the progress file), ``log`` (each new log line) and a final ``done``. A subscriber that joins
late gets the latest status, every round so far and the recent log lines.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from typing import Any, AsyncIterator

from tasks.roles.reporter import round_metrics

POLL_S = 1.0
BACKLOG = 1000
LOG_WINDOW = dt.timedelta(seconds=30)
LOG_FLUSH_S = 2.5  # Prefect sends log lines in batches every 2 s

logger = logging.getLogger("fedpe.api.streams")


class _Poller:
    def __init__(self, hub: "Hub", execution_id: str):
        self.hub = hub
        self.execution_id = execution_id
        self.subscribers: set[asyncio.Queue] = set()
        self.last_status: dict | None = None
        self.rounds: list[dict] = []
        self.logs: list[dict] = []
        self.seen: set = set()
        self.newest = None
        self.done: dict | None = None
        self.task: asyncio.Task | None = None

    def publish(self, event: str, data: Any) -> None:
        item = {"event": event, "data": data}
        for queue in list(self.subscribers):
            if queue.full():  # a slow reader loses the oldest events, never blocks the poller
                with contextlib.suppress(asyncio.QueueEmpty):
                    queue.get_nowait()
            queue.put_nowait(item)

    def backlog(self) -> list[dict]:
        items = []
        if self.last_status is not None:
            items.append({"event": "status", "data": self.last_status})
        items += self.rounds
        items += [{"event": "log", "data": line} for line in self.logs]
        if self.done is not None:
            items.append({"event": "done", "data": self.done})
        return items

    async def _logs(self, snap) -> None:
        """New log lines since the last poll. Hosts send their logs in batches, so a line may land
        after a later one: read a window back from the newest seen and skip the ids already sent."""
        by_task_run = {run.id: (task, host) for task, host, run in snap.roles()}
        after = self.newest - LOG_WINDOW if self.newest else None
        page = await self.hub.orchestrator.logs([snap.flow_run.id, *(c.id for c in snap.children)],
                                                after=after, limit=5000)
        for log in page:
            if log.id in self.seen:
                continue
            self.seen.add(log.id)
            self.newest = max(self.newest, log.timestamp) if self.newest else log.timestamp
            task, host = by_task_run.get(log.task_run_id, (None, None))
            line = {"timestamp": log.timestamp.isoformat(), "level": logging.getLevelName(log.level),
                    "node": host, "task": task, "message": log.message}
            self.logs = (self.logs + [line])[-BACKLOG:]
            self.publish("log", line)

    def _rounds(self, progress: dict) -> None:
        """One `round` event per round in the progress history, each once, in order."""
        done = self.rounds[-1]["data"]["round"] if self.rounds else 0
        for entry in progress.get("history") or []:
            if entry.get("round", 0) <= done:
                continue
            item = {"event": "round", "data": {
                "round": entry["round"], "rounds": progress.get("rounds"), "metrics": round_metrics(entry),
                "clients": entry.get("clients", []), "dropped": entry.get("dropped", []),
                "per_client": entry.get("per_client", {})}}
            self.rounds.append(item)
            self.publish("round", item["data"])
            done = entry["round"]

    async def run(self) -> None:
        executions = self.hub.executions
        try:
            while True:
                snap = await executions.snapshot(self.execution_id)
                progress = await self.hub.outputs.progress(snap.id) or {}
                status = {"execution_id": snap.id, "status": snap.status,
                          "paused": bool(progress.get("paused")) and not snap.final,
                          "prefect_state": snap.flow_run.state_name, "statuses": snap.status_list()}
                if status != self.last_status:
                    self.last_status = status
                    self.publish("status", status)
                self._rounds(progress)
                await self._logs(snap)
                if snap.final:
                    await asyncio.sleep(LOG_FLUSH_S)  # the last batch of the hosts' log lines
                    await self._logs(await executions.snapshot(self.execution_id, fresh=True))
                    self.done = {"execution_id": snap.id, "status": snap.status}
                    self.publish("done", self.done)
                    return
                await asyncio.sleep(POLL_S)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the stream ends with a reason rather than hanging
            logger.warning("stream of %s stopped: %s", self.execution_id, exc)
            self.done = {"execution_id": self.execution_id, "status": "unknown", "error": str(exc)[:300]}
            self.publish("done", self.done)
        finally:
            self.hub._pollers.pop(self.execution_id, None)


class Hub:
    def __init__(self, executions, orchestrator, outputs):
        self.executions = executions
        self.orchestrator = orchestrator
        self.outputs = outputs
        self._pollers: dict[str, _Poller] = {}

    async def subscribe(self, execution_id: str) -> AsyncIterator[dict]:
        """Events of one execution until `done` (the caller has checked access already)."""
        poller = self._pollers.get(execution_id)
        if poller is None:
            poller = self._pollers[execution_id] = _Poller(self, execution_id)
            poller.task = asyncio.create_task(poller.run())
        queue: asyncio.Queue = asyncio.Queue(maxsize=BACKLOG * 2)
        for item in poller.backlog():
            queue.put_nowait(item)
        poller.subscribers.add(queue)
        try:
            while True:
                item = await queue.get()
                yield item
                if item["event"] == "done":
                    return
        finally:
            poller.subscribers.discard(queue)
            if not poller.subscribers and poller.task and not poller.task.done():
                poller.task.cancel()
                self._pollers.pop(execution_id, None)

    async def close(self) -> None:
        for poller in list(self._pollers.values()):
            if poller.task:
                poller.task.cancel()
        self._pollers.clear()
