"""What the API sends back, as pydantic models.

Every model keeps fields the SDK does not know yet (``extra="allow"``), so a newer API never
breaks an older SDK; collections the API leaves out or sends as ``null`` read as empty.
"""

from __future__ import annotations

from datetime import datetime
from enum import IntEnum
from typing import Annotated, Any

from pydantic import AliasChoices, BaseModel, BeforeValidator, ConfigDict, Field

FINISHED_STATUSES = frozenset({"completed", "failed", "cancelled"})
"""Values of `Execution.status` after which nothing changes any more."""


def _empty_if_none(empty: Any):
    return BeforeValidator(lambda value: type(empty)() if value is None else value)


_Dict = Annotated[dict[str, Any], _empty_if_none({})]
_List = Annotated[list[Any], _empty_if_none([])]


class MonitorReturnCode(IntEnum):
    """Why `Session.monitor_job` returned (NVFlare's codes)."""

    JOB_FINISHED = 0
    TIMEOUT = 1
    ENDED_BY_CB = 2


class _Model(BaseModel):
    model_config = ConfigDict(extra="allow")


class Host(_Model):
    """A host of the federation (a named Dask worker) and what it offers."""

    name: str
    state: str = "running"
    """``running``, ``disconnected`` or ``disabled``."""
    last_seen: datetime | None = None
    address: str | None = None
    datasets: _List = Field(default_factory=list)
    resources: _Dict = Field(default_factory=dict)


class ToolTask(_Model):
    """One role of a tool (a Prefect task pinned to a host)."""

    id: str
    name: str | None = None
    role: str | None = None


class Tool(_Model):
    """A tool the federation can run (a deployed Prefect flow) and the JSON schema of its parameters."""

    id: str
    name: str | None = None
    description: str = ""
    mode: str | None = None
    tasks: Annotated[list[ToolTask], _empty_if_none([])] = Field(default_factory=list)
    parameters: _Dict = Field(default_factory=dict)
    single_role: bool = False


class TaskStatus(_Model):
    """Where one role of an execution stands on one host."""

    node: str
    task: str
    status: str
    """FEM's status: ``running`` while the execution lives, then ``completed``, ``failed`` or ``cancelled``."""
    state: str | None = None
    """The role's own progress: ``pending`` until its task run starts."""


class Execution(_Model):
    """One run of a tool: its state, progress and per-host task statuses.

    Also reads the API's longer spellings (``created_at``, ``prefect_state``, ``statuses``…).
    """

    id: str = Field(validation_alias=AliasChoices("id", "execution_id"))
    name: str | None = None
    tool: str | None = None
    owner: str | None = None
    state: str | None = Field(None, validation_alias=AliasChoices("state", "prefect_state"))
    """The Prefect state name (``Completed``, ``Failed``, ``Running``, ``Cancelled``, ``Scheduled``…)."""
    status: str = "pending"
    """The summary: ``pending``, ``running``, ``completed``, ``failed`` or ``cancelled``."""
    parameters: _Dict = Field(default_factory=dict)
    created: datetime | None = Field(None, validation_alias=AliasChoices("created", "created_at"))
    started: datetime | None = Field(None, validation_alias=AliasChoices("started", "started_at"))
    ended: datetime | None = Field(None, validation_alias=AliasChoices("ended", "ended_at"))
    round: int | None = None
    rounds: int | None = None
    paused: bool = False
    """Held between rounds by a pause (`status` stays ``running``)."""
    stopped_because: str | None = None
    """Why the rounds ended early (a stop, the privacy budget), once the tool has ended."""
    result: dict[str, Any] | None = None
    """What the tool returned, once it ended (its shape is the tool's)."""
    metrics: _Dict = Field(default_factory=dict)
    history: Annotated[list[Any] | dict[str, Any], _empty_if_none([])] = Field(default_factory=list)
    mlflow_run_id: str | None = None
    entries: Annotated[list[TaskStatus], _empty_if_none([])] = Field(
        default_factory=list, validation_alias=AliasChoices("entries", "statuses"))

    @property
    def finished(self) -> bool:
        """True once the execution completed, failed or was cancelled."""
        return self.status in FINISHED_STATUSES


class ExecutionPage(_Model):
    """One page of `Session.list_jobs`: the executions and how many match in all."""

    executions: Annotated[list[Execution], _empty_if_none([])] = Field(default_factory=list)
    total: int = 0
    limit: int = 50
    offset: int = 0


class LogRecord(_Model):
    """One line of an execution's log."""

    timestamp: datetime | None = None
    level: str | None = None
    node: str | None = None
    message: str = ""


class Event(_Model):
    """One server-sent event of `Session.stream_events`: ``status``, ``round``, ``log`` or ``done``.

    `data` is the decoded JSON payload (the raw text when it is not JSON).
    """

    event: str = "message"
    data: Any = None
    id: str | None = None
    retry: int | None = None
