"""Dask settings of fedpe's long-lived processes (the scheduler and every host's worker): what an
idle federation costs.

Dask's defaults suit a compute cluster that is busy most of the time: a worker samples its own
stacks a hundred times a second for the profiler, checks its event loop fifty times a second,
reads its process counters twice a second, and a scheduler with few workers asks each for a
heartbeat twice a second. A federation's hosts idle most of the day and their work arrives in
role calls, not task graphs, so each of these runs at a human pace here. The heartbeat
interval itself is the scheduler's to set (fedpe/stack/scheduler_guard.py).

The values are environment variables, so they reach a process Dask starts the same way
whether `fedpe up` or `fedpe host start` on another machine starts it.
"""

from __future__ import annotations

#: Seconds between a host's heartbeats (the scheduler tells each worker; Dask asks for 0.5 s
#: below 10 workers). A host's worker-ttl (30 s) outlives several missed beats.
HEARTBEAT_S = 5.0

IDLE: dict[str, str] = {
    # The statistical profiler samples every thread's stack every 10 ms; fedpe never reads it.
    "DASK_DISTRIBUTED__WORKER__PROFILE__ENABLED": "False",
    # Event-loop health checks: every 20 ms by default; once a second still reports a stall.
    "DASK_DISTRIBUTED__ADMIN__TICK__INTERVAL": "1s",
    # CPU, memory and I/O counters for the heartbeat's metrics: every 0.5 s by default.
    "DASK_DISTRIBUTED__ADMIN__SYSTEM_MONITOR__INTERVAL": "5s",
    "DASK_DISTRIBUTED__ADMIN__SYSTEM_MONITOR__GIL__ENABLED": "False",
    # Spill/pause checks against the memory limit: every 100 ms by default. Roles hold their data
    # themselves (nothing is spilled), so a slower check only delays a memory warning.
    "DASK_DISTRIBUTED__WORKER__MEMORY__MONITOR_INTERVAL": "2s",
}

#: The scheduler's additions: every task is pinned to its host, so there is nothing to steal.
SCHEDULER: dict[str, str] = {
    **IDLE,
    "DASK_DISTRIBUTED__SCHEDULER__WORK_STEALING": "False",
}


def heartbeat_interval(n_workers: int) -> float:
    """Seconds between heartbeats at `n_workers` hosts: HEARTBEAT_S, and at most 40 beats a second."""
    return max(HEARTBEAT_S, n_workers / 40)
