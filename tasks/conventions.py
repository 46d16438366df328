"""Names every tool keeps, so the API can follow an execution without knowing the tool.

- A role's Prefect task run is named ``{task_id}[{host}]``.
- A federated tool's server role keeps ``{store}/{execution_id}/_progress.json`` up to date
  (tool, round, rounds, latest metrics, history), replaced whole each round.
- Each role writes its resource report to ``{store}/{execution_id}/_reports/{host}.{task_id}.json``,
  and the coordinator keeps the head of the host's audit log when the role ended in
  ``{store}/{execution_id}/_audit/{host}.{task_id}.json`` (``fedpe host audit --expect``).
- Each tool's flow writes what it returns to ``{store}/{execution_id}/_result.json`` when it ends
  (in a pipeline the pipeline's own result is written last).
- Control between rounds travels as Dask Events named ``fedpe-{execution_id}-{action}``
  (``stop``, ``pause``); resume clears ``pause``. Abort is the Prefect state Cancelled.
"""

from __future__ import annotations

import re

PROGRESS_FILE = "_progress.json"
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
