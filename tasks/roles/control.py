"""Stop, pause and cancel for a running server role, checked off the round's critical path.

A watcher thread polls, about once a second, the flow run's Prefect state (so a cancel from
the Prefect UI stops the roles too) and the execution's Dask Events `stop` and `pause`.
The round loop only reads two booleans.
"""

from __future__ import annotations

import os
import threading
import time

import httpx

from tasks.conventions import control_event_name

CANCEL_STATES = {"CANCELLING", "CANCELLED", "CRASHED", "FAILED"}


class ControlWatcher:
    def __init__(self, execution_id: str, flow_run_id: str | None, *, interval_s: float = 1.0):
        self.execution_id = execution_id
        self.flow_run_id = flow_run_id
        self.interval_s = interval_s
        self.cancelled = False
        self.stop_requested = False
        self.paused = False
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"fedpe-control-{execution_id}", daemon=True)

    def start(self) -> "ControlWatcher":
        """Resolve the Dask client here, on the role's own thread: a new thread has no worker
        context, and `get_client()` there fails when the worker holds no default client."""
        from distributed import Event, get_client

        client = get_client()
        self._events = (Event(control_event_name(self.execution_id, "stop"), client=client),
                        Event(control_event_name(self.execution_id, "pause"), client=client))
        self._thread.start()
        return self

    def close(self) -> None:
        self._closed.set()

    @property
    def should_stop(self) -> bool:
        return self.cancelled or self.stop_requested

    def wait_while_paused(self) -> None:
        """Block between rounds while paused, unless a stop or cancel arrives."""
        while self.paused and not self.should_stop and not self._closed.is_set():
            time.sleep(0.1)

    def _cancelled(self, http: httpx.Client) -> bool:
        """True when this flow run, or the execution's root run (a pipeline), is being cancelled."""
        api = os.environ.get("PREFECT_API_URL")
        if not api:
            return False
        for run_id in {self.flow_run_id, self.execution_id} - {None}:
            response = http.get(f"{api}/flow_runs/{run_id}", timeout=5.0)
            if response.status_code == 200 and (response.json().get("state") or {}).get("type") in CANCEL_STATES:
                return True
        return False

    def _run(self) -> None:
        stop, pause = self._events
        with httpx.Client() as http:
            while not self._closed.wait(self.interval_s):
                try:
                    if self._cancelled(http):
                        self.cancelled = True
                    self.stop_requested = stop.is_set()
                    self.paused = pause.is_set()
                except Exception:  # the watcher must outlive a flaky poll
                    continue
