"""The runner: save the blocks, then serve every tool deployment (`python -m deployments.serve`).

A flow run starts when Prefect announces it: the runner follows Prefect's event stream and
looks for scheduled runs as soon as a `prefect.flow-run.Scheduled` event arrives (tens of ms
after `run_deployment`), and otherwise polls only every FEDPE_RUNNER_POLL_S seconds (default
5, for schedules and a lost stream). Polling four times a second, as it did, cost an idle
federation a twentieth of a core in the Prefect server alone (bench/scale.py). It starts
each flow run from a preloaded fork server (deployments/fast_start.py), and runs at most
FEDPE_RUNNER_LIMIT flow runs at once. `fedpe up` starts it together with the Prefect server,
so it imports while the server starts and waits for the server's health before it deploys.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import threading
import time

import httpx

from prefect.context import AsyncClientContext, SyncClientContext
from prefect.runner import Runner

from deployments import fast_start
from deployments.build import tool_deployments, tool_flows
from deployments.configure import configure_from_env
from tasks.fast_exit import exit_now


logger = logging.getLogger("fedpe.runner")

#: The event Prefect emits when a flow run is created to start now or later.
SCHEDULED_EVENT = "prefect.flow-run.Scheduled"


#: How long the runner waits, on SIGTERM, for its flow runs to end before it stops regardless
#: (`fedpe down` kills the process group 15 s after its SIGTERM).
STOP_WAIT_S = 10.0

#: The grace a flow run gets between the runner's SIGTERM and its SIGKILL (a cancel, or the
#: runner's own stop). Prefect gives 30 s and looks every tenth of it, but at least every second:
#: every 3 s, so a cancelled run whose process had ended read "Cancelling" for 4.8 s more in one
#: run here. With 10 s it is looked at every second (1.6-2.4 s in two runs).
KILL_GRACE_S = 10.0


class FedpeRunner(Runner):
    """Prefect's Runner, stopping as soon as its flow runs have ended when told to (SIGTERM).

    On SIGTERM (`fedpe down`) Prefect's own handler exits at once; its clean-up then signals each
    flow run it still records and looks again only after 3 s (`ProcessManager.kill`: every
    max(30 s / 10, 1 s)), so the runner took 3.1-5.5 s to stop with a run in flight. Here SIGTERM
    goes to each flow run at once, which ends itself (Crashed: aborted by a termination signal),
    and once Prefect's record of them is empty (at most STOP_WAIT_S) the runner's loops end.
    """

    async def __aenter__(self) -> "FedpeRunner":
        entered = await super().__aenter__()
        # The process manager that Runner.__aenter__ made, and handed to its cancellation manager.
        self._process_manager.kill = functools.partial(_kill_sooner, self._process_manager.kill)
        return entered

    async def start(self, *args, **kwargs) -> None:
        self._fedpe_loop = asyncio.get_running_loop()
        await super().start(*args, **kwargs)

    def handle_sigterm(self, *args, **kwargs) -> None:
        # Installed by Runner.start with signal.signal: it runs between two steps of the loop.
        self._logger.info("SIGTERM received: stopping once the flow runs have ended")
        self._fedpe_loop.call_soon_threadsafe(lambda: asyncio.ensure_future(self._stop_after_flow_runs()))

    async def _stop_after_flow_runs(self) -> None:
        # Each flow run is told here, not by a signal to the runner's process group: that ended
        # the fork server too, and a flow run it could no longer collect stayed a zombie until the
        # machine's init did (every 2 s here), so the runner saw it end that much later.
        # Prefect's record of the flow-run processes it started and has not yet seen end.
        processes = self._process_manager
        for flow_run_id in processes.flow_run_ids():
            handle = processes.get(flow_run_id)
            if handle is not None:
                with contextlib.suppress(OSError):  # it has just ended
                    handle.graceful_kill()
        deadline = time.monotonic() + STOP_WAIT_S
        while processes.flow_run_ids() and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        # Runner.astop's steps without its cancel_all, which would record the runs as Cancelled.
        self.started = False
        self.stopping = True
        self._loops_task_group.cancel_scope.cancel()


async def _kill_sooner(kill, flow_run_id, grace_seconds: float = 30.0, *, force: bool = False) -> None:
    """Prefect's `ProcessManager.kill` with at most KILL_GRACE_S of grace."""
    await kill(flow_run_id, min(grace_seconds, KILL_GRACE_S), force=force)


async def serve(deployments: list[tuple[object, dict]]) -> None:
    # pause_on_shutdown=False: `fedpe down` must not turn off schedules a user turned on.
    runner = FedpeRunner(name="fedpe", limit=int(os.environ.get("FEDPE_RUNNER_LIMIT", "4")), pause_on_shutdown=False,
                         query_seconds=float(os.environ.get("FEDPE_RUNNER_POLL_S", "5")))
    # Over one client (see main). One after another: four at once took 2.6-6.8 s here, against
    # 0.36 s in turn, as the server's SQLite writes wait on each other.
    async with AsyncClientContext.get_or_create():
        for flow, options in deployments:
            await runner.aadd_flow(flow, **options)
    threading.Thread(target=fast_start.warm_up, name="fedpe-forkserver-warm-up", daemon=True).start()
    waking = asyncio.create_task(wake_on_scheduled_runs(runner))
    try:
        await runner.start()
    finally:
        waking.cancel()


async def wake_on_scheduled_runs(runner: Runner) -> None:
    """Look for scheduled runs whenever Prefect announces one (the runner's poll loop is the fallback).

    Events that arrive while a look is under way fold into one more look after it, so a burst of
    submissions costs two queries, not one per run."""
    from prefect.events.clients import get_events_subscriber
    from prefect.events.filters import EventFilter, EventNameFilter

    while not runner.started:
        await asyncio.sleep(0.05)
    wanted = asyncio.Event()

    async def look() -> None:
        while True:
            await wanted.wait()
            wanted.clear()
            try:
                await runner._get_and_submit_flow_runs()  # the poll loop's own step (prefect.runner.Runner)
            except Exception:  # the poll loop still runs; one failed look must not end the wake-ups
                logger.exception("looking for scheduled flow runs failed")

    looking = asyncio.create_task(look())
    only_scheduled = EventFilter(event=EventNameFilter(name=[SCHEDULED_EVENT]))
    try:
        while True:
            try:
                async with get_events_subscriber(filter=only_scheduled, reconnect_on_clean_close=True) as events:
                    async for _event in events:
                        wanted.set()
            except asyncio.CancelledError:
                raise
            except Exception:  # the stream dropped for good: polling carries on, try again shortly
                logger.warning("Prefect's event stream ended; the runner polls every %s s until it is back",
                               runner.query_seconds, exc_info=True)
                await asyncio.sleep(2.0)
    finally:
        looking.cancel()


def wait_for_prefect(timeout_s: float = 300.0) -> None:
    """Until the Prefect API answers its health check (it needs no credentials)."""
    from prefect.settings import PREFECT_API_URL

    url = f"{PREFECT_API_URL.value().rstrip('/')}/health"
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            if httpx.get(url, timeout=2.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise SystemExit(f"the Prefect API at {url} did not answer within {timeout_s:.0f} s")
        time.sleep(0.2)


def main() -> None:
    if os.environ.get("FEDPE_FAST_START", "1") != "0":
        fast_start.install()
    tools = tool_flows()  # the tools' imports, while the Prefect server starts
    wait_for_prefect()
    # One client for every call of the set-up: Prefect makes a client per call otherwise, and
    # each loads the CA bundle (22 ms of CPU here; 0.3-0.5 s of the blocks' set-up).
    with SyncClientContext.get_or_create():
        configure_from_env()
        deployments = tool_deployments(tools, owner=os.environ.get("FEDPE_OWNER", "admin"))
    asyncio.run(serve(deployments))
    exit_now(0)  # the runner has stopped: no finalisation (tasks/fast_exit.py)


if __name__ == "__main__":
    main()
