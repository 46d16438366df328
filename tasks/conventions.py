"""Names every tool keeps, so the API can follow an execution without knowing the tool.

- A role's Prefect task run is named `{task_id}[{host}]`.
- A federated tool's coordinator stores each finished round once, as its own object
  `{store}/{execution_id}/_rounds/{round:05d}.json` (the round's entry as the server role sent
  it; an object store cannot append), and every reader reads them with `tasks.rounds.read_rounds`.
  Beside them, `{store}/{execution_id}/_progress.json` is a header of constant size, replaced as
  the execution goes: tool, status, paused, round, rounds, the latest round's metrics,
  mlflow_run_id, model_uri, server, updated_at.
- Each role writes its resource report to `{store}/{execution_id}/_reports/{host}.{task_id}.json`,
  and the coordinator keeps the head of the host's audit log when the role ended in
  `{store}/{execution_id}/_audit/{host}.{task_id}.json` (`fedpe host audit --expect`).
- Each tool's flow writes what it returns to `{store}/{execution_id}/_result.json` when it ends,
  the one stored copy the API reads (in a pipeline the pipeline's own result is written last;
  flcore also leaves its user `summary.json` among the server host's outputs).
  Prefect persists the same value for `run_deployment` callers.
- Control between rounds travels as Dask Events named `fedpe-{execution_id}-{action}`
  (`stop`, `pause`); resume clears `pause`. Abort is the Prefect state Cancelled.
"""

from __future__ import annotations

import re

PROGRESS_FILE = "_progress.json"
ROUNDS_DIR = "_rounds"
RESULT_FILE = "_result.json"
REPORTS_DIR = "_reports"
AUDIT_DIR = "_audit"
CONTROL_ACTIONS = ("stop", "pause")

_TASK_RUN_NAME = re.compile(r"^(?P<task>[A-Za-z0-9_.-]+)\[(?P<host>[^\]]+)\]$")


def task_run_name(task_id: str, host: str) -> str:
    return f"{task_id}[{host}]"


def parse_task_run_name(name: str) -> tuple[str, str] | None:
    """(task_id, host) of a role's task run name, or None for other task runs."""
    match = _TASK_RUN_NAME.match(name or "")
    return (match["task"], match["host"]) if match else None


def control_event_name(execution_id: str, action: str) -> str:
    if action not in CONTROL_ACTIONS:
        raise ValueError(f"unknown control action {action!r}")
    return f"fedpe-{execution_id}-{action}"


def report_file(host: str, task_id: str) -> str:
    return f"{host}.{task_id}.json"


def round_file(round_: int) -> str:
    """The name of a round's object under `ROUNDS_DIR`: zero-padded, so names sort as rounds do."""
    return f"{round_:05d}.json"
