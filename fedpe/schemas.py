"""One schema per concept, shared by the tools' specs, the API's answers, the dashboard and the SDK.

A tool's spec (`flows/`), the API's JSON (`fedpe.api`), the pages (`fedpe.dashboard`) and the
client's objects (`fedpe.sdk`) are these classes, so a field has one name everywhere: the
names the API has always sent (`created_at`, `prefect_state`, `statuses`; FEM's wire names never
change). Pydantic and the standard library only, like `fedpe.errors`: the SDK imports it without
FastAPI or Prefect, and the tools in `flows/` may import it, as they import `fedpe.errors`.

Read leniently, sent in full:
- unknown fields are kept (`extra="allow"`), so a newer API never breaks an older SDK;
- collections sent as `null` read as empty, and what a client may leave out has a default;
- the API always sends every field, so its OpenAPI document marks them all required
  (`json_schema_serialization_defaults_required`);
- times are `datetime`s, written in JSON as Python's `isoformat()` (`+00:00`), as the API always
  wrote them;
- the SDK's earlier spellings (`created`, `state`, `entries`…) are read as the names they
  stand for.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal, get_args

from pydantic import (AliasChoices, BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer, WithJsonSchema,
                      model_validator)

__all__ = [
    "EXECUTION_CONTROLS", "EXECUTION_STATUSES", "FINISHED_STATUSES", "Execution", "ExecutionControl",
    "ExecutionLinks", "ExecutionPage", "ExecutionStatus", "ExecutionSummary", "FemStatus", "Host", "HostState",
    "LogRecord", "Task", "TaskRole", "TaskStatus", "Timestamp", "Tool", "ToolMode",
]

# vocabularies ---------------------------------------------------------------------------------

ExecutionStatus = Literal["pending", "running", "completed", "failed", "cancelled"]
"""fedpe's word for where an execution (or one role's task run) stands."""
EXECUTION_STATUSES: tuple[str, ...] = get_args(ExecutionStatus)
FINISHED_STATUSES = frozenset({"completed", "failed", "cancelled"})
"""Values of `ExecutionSummary.status` after which nothing changes any more."""

FemStatus = Literal["running", "completed", "failed", "cancelled"]
"""FEM's status of one role: `running` while the execution lives, then how it ended (never `pending`)."""

ExecutionControl = Literal["pause", "resume", "stop", "abort"]
"""What a user may ask of a running execution (`POST /executions/{id}/control`)."""
EXECUTION_CONTROLS: tuple[str, ...] = get_args(ExecutionControl)

HostState = Literal["running", "disconnected", "disabled"]
TaskRole = Literal["server", "client", "worker"]
ToolMode = Literal["distributed", "federated"]


def _word(vocabulary: Any) -> Any:
    """A word of `vocabulary` in what the API sends: its OpenAPI document lists the words, and any
    string reads, so a word a newer API adds never breaks an older SDK (requests stay strict)."""
    return Annotated[str, WithJsonSchema({"type": "string", "enum": list(get_args(vocabulary))})]


SentExecutionStatus = _word(ExecutionStatus)
SentFemStatus = _word(FemStatus)
SentHostState = _word(HostState)
SentTaskRole = _word(TaskRole)
SentToolMode = _word(ToolMode)


def _empty_if_none(empty: Any) -> BeforeValidator:
    return BeforeValidator(lambda value: type(empty)() if value is None else value)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


_Dict = Annotated[dict[str, Any], _empty_if_none({})]
Timestamp = Annotated[
    datetime | None,
    PlainSerializer(_iso, return_type=str | None, when_used="json"),
    WithJsonSchema({"anyOf": [{"type": "string", "format": "date-time"}, {"type": "null"}]}),
]
"""A time; `null` when it has not happened. JSON: ISO 8601 as Python writes it."""


def _was(*names: str) -> AliasChoices:
    """The field's name first, then the earlier spellings a client may still send."""
    return AliasChoices(*names)


class _Model(BaseModel):
    model_config = ConfigDict(extra="allow", json_schema_serialization_defaults_required=True)


# tools and tasks --------------------------------------------------------------------------------

class Task(_Model):
    """A role of a tool: the part of it that runs on one host (a Prefect task pinned to it)."""

    id: str
    name: str = ""
    tool: str = ""
    role: SentTaskRole
    description: str = ""


class Tool(_Model):
    """A tool: a Prefect flow deployed as `<id>/default`, its roles and the JSON schema of its parameters."""

    id: str
    name: str = ""
    description: str = ""
    mode: SentToolMode
    tasks: Annotated[list[Task], _empty_if_none([])] = Field(default_factory=list)
    single_role: bool = Field(default=True, description="True: the hosts go to `hosts`; false: `server` + `clients`.")
    parameters: _Dict = Field(default_factory=dict,
                              description="JSON schema of the tool's parameters (the deployment's).")


# hosts -----------------------------------------------------------------------------------------

class Host(_Model):
    """A host of the federation (a named Dask worker) and what it offers."""

    name: str
    state: SentHostState = "running"
    connected: bool = True
    disabled: bool = False
    address: str | None = None
    last_seen: Timestamp = None
    datasets: Annotated[list[dict[str, Any]], _empty_if_none([])] = Field(default_factory=list)
    resources: _Dict = Field(default_factory=dict)
    versions: _Dict = Field(default_factory=dict)
    policy: dict[str, Any] | None = Field(default=None, description="What the host accepts (its own policy file): "
                                                                    "tools, owners, datasets, privacy floors.")


# executions ------------------------------------------------------------------------------------

class TaskStatus(_Model):
    """One role on one host. FEM clients read `status` only: the execution is finished when no
    entry reads `running`; `state` is the role's own progress (`pending` until its task starts)."""

    node: str
    task: str
    status: SentFemStatus = Field(
        description="FEM's status: running while the job lives (also for a role not yet started), then its end.")
    state: SentExecutionStatus | None = Field(default=None, description="The role's task run: pending until it starts.")
    role: str | None = None
    part: int | None = None


class ExecutionLinks(_Model):
    """Where to see an execution in the Prefect and MLflow UIs."""

    prefect_flow_run: str | None = Field(default=None, description="The flow run in the Prefect UI.")
    mlflow_run: str | None = Field(default=None, description="The MLflow run in the MLflow UI (trainings only).")


class ExecutionSummary(_Model):
    """One run of a tool as a list shows it (the id is the Prefect flow run's)."""

    id: str
    execution_id: str = Field(default="", description="The same as `id` (FEM's name).")
    name: str = ""
    tool: str = ""
    owner: str = ""
    status: SentExecutionStatus = "pending"
    prefect_state: str | None = Field(default=None, validation_alias=_was("prefect_state", "state"),
                                      description="The Prefect state's name (Completed, Running, Cancelled…).")
    created_at: Timestamp = Field(default=None, validation_alias=_was("created_at", "created"))
    started_at: Timestamp = Field(default=None, validation_alias=_was("started_at", "started"))
    ended_at: Timestamp = Field(default=None, validation_alias=_was("ended_at", "ended"))
    hosts: Annotated[list[str], _empty_if_none([])] = Field(default_factory=list)
    round: int | None = Field(default=None, description="Rounds finished (federated training).")
    rounds: int | None = Field(default=None, description="Rounds asked for.")

    @model_validator(mode="before")
    @classmethod
    def _one_id(cls, data: Any) -> Any:
        """`id` and FEM's `execution_id` name the same thing: either fills the other."""
        if isinstance(data, dict) and (data.get("id") is None) != (data.get("execution_id") is None):
            data = {**data, "id": data.get("id") or data["execution_id"],
                    "execution_id": data.get("execution_id") or data["id"]}
        return data

    @property
    def finished(self) -> bool:
        """True once the execution completed, failed or was cancelled."""
        return self.status in FINISHED_STATUSES


class Execution(ExecutionSummary):
    """The full picture of one execution: its parameters, progress, result and status list."""

    parameters: _Dict = Field(default_factory=dict)
    paused: bool = Field(default=False, description="Held between rounds by a pause; its status stays running.")
    stopped_because: str | None = Field(default=None, description="Why the rounds ended early (stop, privacy budget).")
    result: dict[str, Any] | None = Field(default=None, description="What the tool returned, once it ended.")
    state_message: str | None = Field(default=None, description="The Prefect state's message (why it failed).")
    elapsed_s: float | None = None
    metrics: _Dict = Field(default_factory=dict)
    history: Annotated[list[Any] | dict[str, Any], _empty_if_none([])] = Field(
        default_factory=list, description="One entry per finished round.")
    mlflow_run_id: str | None = None
    model_uri: str | None = None
    links: Annotated[ExecutionLinks, BeforeValidator(lambda v: {} if v is None else v)] = Field(
        default_factory=ExecutionLinks)
    statuses: Annotated[list[TaskStatus], _empty_if_none([])] = Field(
        default_factory=list, validation_alias=_was("statuses", "entries"),
        description="FEM's status list: one entry per role and host (as /executions/status/{id}).")
    parts: Annotated[list[dict[str, Any]], _empty_if_none([])] = Field(
        default_factory=list, description="A pipeline's steps: id, name and status of each.")


class ExecutionPage(_Model):
    """One page of executions and how many match in all."""

    executions: Annotated[list[ExecutionSummary], _empty_if_none([])] = Field(default_factory=list)
    total: int = 0
    limit: int = 50
    offset: int = 0


class LogRecord(_Model):
    """One line of an execution's log (`GET /executions/logs/{id}?format=json` sends one per line)."""

    timestamp: Timestamp = None
    level: str | None = None
    node: str | None = Field(default=None, description="The host; none for the flow's own lines.")
    task: str | None = None
    logger: str | None = None
    message: str = ""
