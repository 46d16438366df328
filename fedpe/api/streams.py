"""Live events of an execution for SSE and the WebSocket: one poller per execution, shared.

Events: `status` (the overall state, whether the rounds are paused, and the status list, when
any of it changes), `round` (one per stored round, as a `/metrics` row, `RoundRecord.row()`,
with the number of rounds), `log` (each new log line) and a final `done`. A subscriber that
joins late gets the latest status, every round so far and the recent log lines.

Every event carries an id, a `Cursor`: the poller that numbered it and its number, plus the last
round and the newest log line sent so far. A subscriber that gives back the id of the last event
it got (SSE's `Last-Event-ID`) gets only what came after it: by number from the same poller
(pollers linger `LINGER_S` after their last subscriber leaves, longer than a browser's `RETRY_MS`),
by round and log time from any other (the API restarted). The id of `done` says so, and a
stream resumed after it has nothing more to send.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import re
import secrets
from dataclasses import dataclass
from typing import Any, AsyncIterator

from tasks.rounds import RoundRecord

POLL_S = 1.0
BACKLOG = 1000
LOG_WINDOW = dt.timedelta(seconds=30)
LOG_FLUSH_S = 2.5  # Prefect sends log lines in batches every 2 s
RETRY_MS = 3000  # what a browser waits before it reconnects (SSE `retry:`)
LINGER_S = 30.0  # a poller outlives its last subscriber this long, for reconnects

logger = logging.getLogger("fedpe.api.streams")

_CURSOR = re.compile(r"^(?P<epoch>[0-9a-f]{8})\.(?P<seq>\d{1,12})\.(?P<round>\d{1,9})\.(?P<log_us>\d{1,20})"
                     r"(?P<done>\.done)?$")


@dataclass(frozen=True)
class Cursor:
    """Where a subscriber stands in an execution's events (the `id:` of an event)."""

    epoch: str  # the poller that numbered the events
    seq: int  # that poller's number of the event
    round: int = 0  # the last round sent up to this event
    log_us: int = 0  # the newest log line's timestamp sent up to this event, in µs since 1970
    done: bool = False

    def __str__(self) -> str:
        return f"{self.epoch}.{self.seq}.{self.round}.{self.log_us}{'.done' if self.done else ''}"

    @classmethod
    def parse(cls, text: str | None) -> "Cursor | None":
        """The cursor an event id stands for; None for none or one this API did not make."""
        match = _CURSOR.match((text or "").strip())
        if not match:
            return None
        return cls(match["epoch"], int(match["seq"]), int(match["round"]), int(match["log_us"]), bool(match["done"]))


def _micros(timestamp: dt.datetime) -> int:
    return int(timestamp.timestamp() * 1_000_000)


class _Poller:
    def __init__(self, hub: "Hub", execution_id: str):
        self.hub = hub
        self.execution_id = execution_id
        self.epoch = secrets.token_hex(4)
        self.seq = 0
        self.round_mark = 0
        self.log_mark = 0
        self.subscribers: set[asyncio.Queue] = set()
        self.last_status: dict | None = None
        self.rounds: list[dict] = []
        self.logs: list[dict] = []
        self.seen: set = set()
        self.newest = None
        self.done: dict | None = None
        self.task: asyncio.Task | None = None
        self.linger: asyncio.TimerHandle | None = None

    def publish(self, event: str, data: Any, *, log_us: int | None = None) -> dict:
        """Number the event, remember it in the backlog and hand it to every subscriber."""
        self.seq += 1
        if event == "round":
            self.round_mark = max(self.round_mark, data["round"])
        if log_us is not None:
            self.log_mark = max(self.log_mark, log_us)
        cursor = Cursor(self.epoch, self.seq, self.round_mark, self.log_mark, done=event == "done")
        item = {"event": event, "data": data, "id": str(cursor), "seq": self.seq}
        if log_us is not None:
            item["log_us"] = log_us
        if event == "status":
            self.last_status = item
        elif event == "round":
            self.rounds.append(item)
        elif event == "log":
            self.logs = (self.logs + [item])[-BACKLOG:]
        elif event == "done":
            self.done = item
        for queue in list(self.subscribers):
            if queue.full():  # a slow reader loses the oldest events, never blocks the poller
                with contextlib.suppress(asyncio.QueueEmpty):
                    queue.get_nowait()
            queue.put_nowait(item)
        return item

    def backlog(self) -> list[dict]:
        items = [self.last_status] if self.last_status is not None else []
        items += self.rounds + self.logs
        if self.done is not None:
            items.append(self.done)
        return items

    def wanted(self, item: dict, after: Cursor | None) -> bool:
        """Whether a subscriber that last got `after` still needs `item`."""
        if after is None:
            return True
        if after.epoch == self.epoch:
            return item["seq"] > after.seq
        if item["event"] == "round":  # numbered by another poller: go by round and log time
            return item["data"]["round"] > after.round
        if item["event"] == "log":
            return item.get("log_us", 0) > after.log_us
        return True  # the status now and the end

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
            self.publish("log", line, log_us=_micros(log.timestamp))

    async def _rounds(self, execution_id: str, progress: dict) -> None:
        """One `round` event per stored round, each once, in order. The store is listed only when
        the progress header counts a round not sent yet (it is written after the round itself)."""
        done = self.rounds[-1]["data"]["round"] if self.rounds else 0
        if not isinstance(progress.get("round"), int) or progress["round"] <= done:
            return
        for entry in await self.hub.outputs.rounds(execution_id, after=done):
            self.publish("round", {**RoundRecord.from_entry(entry).row(), "rounds": progress.get("rounds")})

    async def run(self) -> None:
        executions = self.hub.executions
        try:
            while True:
                snap = await executions.snapshot(self.execution_id)
                progress = await self.hub.outputs.progress(snap.id) or {}
                status = {"execution_id": snap.id, "status": snap.status,
                          "paused": bool(progress.get("paused")) and not snap.final,
                          "prefect_state": snap.flow_run.state_name, "statuses": snap.status_list()}
                if self.last_status is None or status != self.last_status["data"]:
                    self.publish("status", status)
                await self._rounds(snap.id, progress)
                await self._logs(snap)
                if snap.final:
                    await asyncio.sleep(LOG_FLUSH_S)  # the last batch of the hosts' log lines
                    await self._logs(await executions.snapshot(self.execution_id, fresh=True))
                    self.publish("done", {"execution_id": snap.id, "status": snap.status})
                    return
                await asyncio.sleep(POLL_S)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the stream ends with a reason rather than hanging
            logger.warning("stream of %s stopped: %s", self.execution_id, exc)
            self.publish("done", {"execution_id": self.execution_id, "status": "unknown", "error": str(exc)[:300]})
        finally:
            if self.hub._pollers.get(self.execution_id) is self:
                del self.hub._pollers[self.execution_id]


class Hub:
    def __init__(self, executions, orchestrator, outputs):
        self.executions = executions
        self.orchestrator = orchestrator
        self.outputs = outputs
        self._pollers: dict[str, _Poller] = {}

    def _poller(self, execution_id: str) -> _Poller:
        poller = self._pollers.get(execution_id)
        if poller is None:
            poller = self._pollers[execution_id] = _Poller(self, execution_id)
            poller.task = asyncio.create_task(poller.run())
        if poller.linger is not None:
            poller.linger.cancel()
            poller.linger = None
        return poller

    def _leave(self, poller: _Poller, queue: asyncio.Queue) -> None:
        poller.subscribers.discard(queue)
        if poller.subscribers or not poller.task or poller.task.done():
            return

        def end() -> None:
            poller.linger = None
            if not poller.subscribers and poller.task and not poller.task.done():
                poller.task.cancel()
                if self._pollers.get(poller.execution_id) is poller:
                    del self._pollers[poller.execution_id]
        poller.linger = asyncio.get_running_loop().call_later(LINGER_S, end)

    async def subscribe(self, execution_id: str, after: Cursor | None = None) -> AsyncIterator[dict]:
        """Events of one execution until `done`, those after `after` only (the caller has checked
        access already). Each is `{"event", "data", "id"}`."""
        poller = self._poller(execution_id)
        queue: asyncio.Queue = asyncio.Queue(maxsize=BACKLOG * 2)
        for item in poller.backlog():
            if poller.wanted(item, after):
                queue.put_nowait(item)
        poller.subscribers.add(queue)
        try:
            while True:
                item = await queue.get()
                if not poller.wanted(item, after):
                    continue
                yield {"event": item["event"], "data": item["data"], "id": item["id"]}
                if item["event"] == "done":
                    return
        finally:
            self._leave(poller, queue)

    async def close(self) -> None:
        for poller in list(self._pollers.values()):
            if poller.linger is not None:
                poller.linger.cancel()
            if poller.task:
                poller.task.cancel()
        self._pollers.clear()


def event_stream(hub: Hub, execution_id: str, last_event_id: str | None):
    """The SSE response of an execution's events for the API and the dashboard: `id:` on every
    event, `retry:` on the first, only what came after `Last-Event-ID`, and the end after
    `done`. A client that got `done` already (its Last-Event-ID says so) gets 204 No Content,
    which tells a browser's EventSource to stop reconnecting."""
    import json

    from fastapi.responses import Response
    from sse_starlette.sse import EventSourceResponse

    after = Cursor.parse(last_event_id)
    if after is not None and after.done:
        return Response(status_code=204)

    async def events():
        retry = RETRY_MS
        async for item in hub.subscribe(execution_id, after):
            event = {"event": item["event"], "data": json.dumps(item["data"]), "id": item["id"]}
            if retry:
                event["retry"], retry = retry, None
            yield event
    return EventSourceResponse(events(), ping=15)
