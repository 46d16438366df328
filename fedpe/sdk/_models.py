"""What the API sends back, as pydantic models: those of `fedpe.schemas` (the classes the API
answers with), plus what only a client needs.

Every model keeps fields the SDK does not know yet (`extra="allow"`), so a newer API never
breaks an older SDK; collections the API leaves out or sends as `null` read as empty.

`Execution` is the shared one with the SDK's earlier attribute names kept for one release:
`created`, `started`, `ended`, `state` and `entries` still read (with a `DeprecationWarning`)
as `created_at`, `started_at`, `ended_at`, `prefect_state` and `statuses`, and a dump carries
both spellings, so `fedpe ... --json` output keeps the old keys beside the new ones.
"""

from __future__ import annotations

import warnings
from enum import IntEnum
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, SerializerFunctionWrapHandler, model_serializer

from fedpe import schemas
from fedpe.schemas import FINISHED_STATUSES, Host, LogRecord, Task, TaskStatus, Tool

__all__ = ["FINISHED_STATUSES", "Event", "Execution", "ExecutionPage", "Host", "LogRecord", "MonitorReturnCode",
           "Task", "TaskStatus", "Tool"]

RENAMED = {"created": "created_at", "started": "started_at", "ended": "ended_at", "state": "prefect_state",
           "entries": "statuses"}
"""The SDK's earlier `Execution` attribute names -> the shared names (deprecated for one release)."""


class MonitorReturnCode(IntEnum):
    """Why `Session.monitor_job` returned (NVFlare's codes)."""

    JOB_FINISHED = 0
    TIMEOUT = 1
    ENDED_BY_CB = 2


def _renamed(old: str, new: str) -> property:
    def read(self: Any) -> Any:
        warnings.warn(f"`Execution.{old}` is deprecated and will be removed in the next release: "
                      f"read `Execution.{new}`", DeprecationWarning, stacklevel=2)
        return getattr(self, new)
    return property(read, doc=f"Deprecated: `{new}`.")


class Execution(schemas.Execution):
    """One run of a tool: its state, progress and per-host task statuses (`fedpe.schemas.Execution`)."""

    created = _renamed("created", "created_at")
    started = _renamed("started", "started_at")
    ended = _renamed("ended", "ended_at")
    state = _renamed("state", "prefect_state")
    entries = _renamed("entries", "statuses")

    @model_serializer(mode="wrap")
    def _with_earlier_names(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """For one release a dump also carries the earlier keys, for whoever reads the CLI's `--json`."""
        data = handler(self)
        for old, new in RENAMED.items():
            if new in data:
                data.setdefault(old, data[new])
        return data


class ExecutionPage(schemas.ExecutionPage):
    """One page of `Session.list_jobs`: the executions and how many match in all."""

    executions: Annotated[list[Execution], BeforeValidator(lambda v: [] if v is None else v)] = Field(
        default_factory=list)


class Event(BaseModel):
    """One server-sent event of `Session.stream_events`: `status`, `round`, `log` or `done`.

    `data` is the decoded JSON payload (the raw text when it is not JSON).
    """

    model_config = ConfigDict(extra="allow")

    event: str = "message"
    data: Any = None
    id: str | None = None
    retry: int | None = None
