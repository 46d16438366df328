"""Start served flow runs from a fork server that has already imported Prefect and the tools.

Prefect's runner starts each flow run of an in-memory flow with `run_flow_in_subprocess`,
which spawns a fresh interpreter: on these machines importing Prefect and a tool takes 2-3 s
before the flow's first line runs. A `forkserver` context whose server preloads those modules
forks a ready process instead. Prefect's direct starter documents its module-level reference
to `run_flow_in_subprocess` as the place to patch; we keep Prefect's own function and only
hand it the forkserver context, so the flow run's set-up (env, settings, signals, control
channel) stays Prefect's.
"""

from __future__ import annotations

import multiprocessing
from types import ModuleType

PRELOAD = [
    "prefect", "prefect.flow_engine", "prefect.runner", "distributed", "numpy",
    "flows.health_check", "flows.flcore", "flows.fed_stats", "flows.pipeline",
    # What a training's reporter needs at its end: without them each flow run imported MLflow
    # and matplotlib itself, seconds between its last round and its result.
    "mlflow", "mlflow.pyfunc", "mlflow.tracking", "deployments.warm", "matplotlib", "matplotlib.pyplot",
    # The model's registration: importing scikit-learn (and SciPy under it) with the packaging took
    # 1.3 s here, which each flow run paid between its last round and its result.
    "tasks.export.packaging", "tasks.export.signature", "tasks.report",
    "deployments.heartbeats",  # a flow run ends without waiting for the heartbeat thread's sleep
    "deployments.gc_freeze",  # last: it freezes what the modules above left in memory
]


class _ForkserverMultiprocessing(ModuleType):
    """The `multiprocessing` module as flow_engine sees it, with every context a forkserver."""

    def __init__(self) -> None:
        super().__init__("multiprocessing")
        self._context = multiprocessing.get_context("forkserver")

    def __getattr__(self, name: str):
        return getattr(multiprocessing, name)

    def get_context(self, method: str | None = None):
        return self._context


def install(preload: list[str] | None = None) -> None:
    """Make this process's runner start flow runs from a preloaded fork server."""
    from prefect import flow_engine

    shim = _ForkserverMultiprocessing()
    shim._context.set_forkserver_preload(list(preload or PRELOAD))
    flow_engine.multiprocessing = shim
    global _shim
    _shim = shim


_shim: _ForkserverMultiprocessing | None = None


def warm_up() -> None:
    """Start the fork server and wait for its imports now rather than on the first flow run: the
    server preloads before it answers, so one trivial child blocks until it is warm. The runner
    calls it in a thread once its deployments exist, off `fedpe up`'s critical path; a flow run
    that comes sooner waits for the same server."""
    if _shim is None:
        return
    child = _shim._context.Process(target=_warm, name="fedpe-forkserver-warm-up")
    child.start()
    child.join()


def _warm() -> None:
    """Nothing: forking it proves the server has imported its preload."""
