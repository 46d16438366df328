"""Imported by the runner's fork server (deployments/fast_start.py PRELOAD): a flow run ends
without waiting for Prefect's heartbeat thread to wake up.

Prefect's sync flow engine sends flow-run heartbeats (every 180 s by default) from a daemon
thread that sleeps in one-second steps, and when the run ends it joins that thread: every flow
run waited for the current step to end, 0-1 s after its result was in (0.70 s of a 25-host
training's end, py-spy). The engine's own `join_on_exit=False`, which its async engine passes,
leaves the thread to see the stop flag at its next step: it sends nothing after the run's final
state, and a daemon thread does not hold the process up. The heartbeats themselves are kept, for
Prefect's zombie-flow automations. `_send_heartbeats` is Prefect's private helper (prefect is
pinned exactly in pyproject.toml); if it moves or loses `join_on_exit`, flow runs only wait again.
"""

from __future__ import annotations

import inspect

from prefect import flow_engine

_prefect_send_heartbeats = getattr(flow_engine, "_send_heartbeats", None)


def _send_heartbeats_unjoined(engine, join_on_exit: bool = True):
    return _prefect_send_heartbeats(engine, join_on_exit=False)


if _prefect_send_heartbeats is not None and "join_on_exit" in inspect.signature(_prefect_send_heartbeats).parameters:
    flow_engine._send_heartbeats = _send_heartbeats_unjoined
