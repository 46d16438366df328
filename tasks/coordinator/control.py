"""Stop, pause and cancel of a running execution, watched by the coordinator for its roles.

A watcher thread in the flow's process polls, about once a second, the flow run's Prefect state
(so a cancel from the Prefect UI stops the roles too) and the execution's Dask Events `stop` and
`pause` (set by the API's controls). Every poll of a role carries `flags()` to its host, where
the server role reads them between rounds (tasks/host/context.py).
"""

from __future__ import annotations

import threading

from tasks.conventions import control_event_name

CANCEL_STATES = {"CANCELLING", "CANCELLED", "CRASHED", "FAILED"}


class ControlWatcher:
    def __init__(self, execution_id: str, flow_run_id: str | None, client, *, interval_s: float = 1.0):
        from distributed import Event

        self.execution_id = execution_id
        self.flow_run_id = flow_run_id
        self.interval_s = interval_s
        self.cancelled = False
        self.stop_requested = False
        self.paused = False
        self._events = (Event(control_event_name(execution_id, "stop"), client=client),
                        Event(control_event_name(execution_id, "pause"), client=client))
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"fedpe-control-{execution_id}", daemon=True)

    def start(self) -> "ControlWatcher":
        self._thread.start()
        return self

    def close(self) -> None:
        self._closed.set()

    def flags(self) -> dict:
        return {"cancel": self.cancelled, "stop": self.stop_requested, "pause": self.paused}

    def _cancelled(self, prefect) -> bool:
        """True when this flow run, or the execution's root run (a pipeline), is being cancelled."""
        for run_id in {self.flow_run_id, self.execution_id} - {None}:
            run = prefect.read_flow_run(run_id)
            if run.state is not None and run.state.type.value in CANCEL_STATES:
                return True
        return False

    def _run(self) -> None:
        from prefect import get_client

        stop, pause = self._events
        with get_client(sync_client=True) as prefect:
            while not self._closed.wait(self.interval_s):
                try:
                    if self._cancelled(prefect):
                        self.cancelled = True
                    self.stop_requested = stop.is_set()
                    self.paused = pause.is_set()
                except Exception:  # the watcher must outlive a flaky poll
                    continue
