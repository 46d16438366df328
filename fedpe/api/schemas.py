"""Request and response bodies of the API (FEM's wire format where FEM defines one).

The concepts the SDK and the dashboard read too (tools, tasks, hosts, executions, their status
lists) are defined once in `fedpe.schemas` and re-exported here; this module adds what only the
API speaks: errors, auth, submissions, controls, reports, metrics, health and users.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from fedpe.schemas import (Execution, ExecutionControl, ExecutionLinks, ExecutionPage, ExecutionStatus,
                           ExecutionSummary, Host, HostState, Task, TaskStatus, Tool)

__all__ = [  # the shared ones first, then the API's own
    "Execution", "ExecutionControl", "ExecutionLinks", "ExecutionPage", "ExecutionStatus", "ExecutionSummary",
    "Host", "HostState", "Task", "TaskStatus", "Tool",
    "AuditAnchor", "CancelResponse", "CloneResponse", "ControlRequest", "ControlResponse", "DeleteResponse",
    "Dependencies", "Dependency", "ErrorBody", "ErrorDetail", "FilesOfNode", "Health", "Heartbeat", "HostToggle",
    "Me", "Metrics", "MetricsRow", "NewUser", "Problem", "QueueStatus", "RenameRequest", "Report", "ReportTask",
    "SubmitResponse", "TokenResponse", "UserInfo", "UserKey", "ValidateRequest", "ValidateResponse",
]


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


# errors -------------------------------------------------------------------------------------

class ErrorDetail(BaseModel):
    code: str = Field(examples=["VALIDATION_ERROR"])
    message: str
    details: dict[str, Any] = Field(default_factory=dict)


class ErrorBody(BaseModel):
    error: ErrorDetail


# auth ---------------------------------------------------------------------------------------

class TokenResponse(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int


class Me(BaseModel):
    name: str
    is_admin: bool


# hosts --------------------------------------------------------------------------------------

class Heartbeat(BaseModel):
    node: str
    state: HostState
    last_seen: str | None = None


class HostToggle(BaseModel):
    node: str
    state: HostState
    disabled_hosts: list[str]


# jobs ---------------------------------------------------------------------------------------

class SubmitResponse(BaseModel):
    status: Literal["success"] = "success"
    execution_id: str


class ValidateRequest(BaseModel):
    """A submission to check: the tool, its parameters, and FEM's host fields."""

    model_config = ConfigDict(extra="forbid")  # a stray `server` must not be dropped silently

    tool: str = Field(examples=["health-check"])
    parameters: dict[str, Any] = Field(default_factory=dict)
    server_node: str | None = None
    client_nodes: list[str] | None = None


class Problem(BaseModel):
    field: str | None
    code: str
    message: str


class ValidateResponse(BaseModel):
    valid: bool
    errors: list[str] = Field(default_factory=list, description="'field: message' for each problem.")
    problems: list[Problem] = Field(default_factory=list)
    parameters: dict[str, Any] | None = Field(default=None, description="What would run, hosts resolved.")


# executions ---------------------------------------------------------------------------------

class MetricsRow(BaseModel):
    round: int
    metrics: dict[str, float | None] = Field(description="The round's metrics, as MLflow has them at this step.")
    per_client: dict[str, dict[str, float | None]] = Field(
        default_factory=dict, description="Each client's metrics; MLflow names them client.HOST.KEY.")
    clients: list[str] = Field(default_factory=list, description="The hosts that answered this round.")
    dropped: list[str] = Field(default_factory=list, description="The hosts that dropped out of this round.")


class Metrics(BaseModel):
    execution_id: str
    tool: str
    status: ExecutionStatus
    round: int | None = None
    rounds: int | None = None
    mlflow_run_id: str | None = None
    rows: list[MetricsRow]


class ControlRequest(BaseModel):
    action: ExecutionControl
    reason: str | None = Field(default=None, max_length=500)


class ControlResponse(_Open):
    status: str
    action: str
    message: str
    timestamp: str


class RenameRequest(BaseModel):
    name: str = Field(min_length=1, max_length=100)


class CancelResponse(_Open):
    status: Literal["success"] = "success"
    execution_id: str
    state: str
    message: str


class DeleteResponse(_Open):
    status: Literal["success"] = "success"
    execution_id: str
    outputs_removed: bool
    mlflow_run_deleted: bool
    submit_tokens_deleted: int


class CloneResponse(SubmitResponse):
    cloned_from: str


class ReportTask(_Open):
    node: str
    task: str
    status: ExecutionStatus
    exit_code: int | None
    start_time: str | None
    end_time: str | None
    elapsed_s: float | None
    cpu_seconds: float | None
    rss_peak_bytes: int | None


class Report(_Open):
    execution_id: str
    tool: str
    status: ExecutionStatus
    exit_code: int | None
    start_time: str | None
    end_time: str | None
    elapsed_s: float | None
    tasks: list[ReportTask]
    totals: dict[str, Any]


class FilesOfNode(_Open):
    files: list[str]


class QueueStatus(BaseModel):
    queued: int
    pending: int
    running: int
    completed: int
    failed: int
    cancelled: int
    total: int
    is_empty: bool


class Dependency(_Open):
    status: Literal["connected", "unreachable"]
    response_time_ms: float


class Dependencies(BaseModel):
    dependencies: dict[str, Dependency]


class Health(_Open):
    status: Literal["healthy", "degraded"]
    version: str
    uptime: str
    services: dict[str, dict[str, Any]]


# users --------------------------------------------------------------------------------------

class UserInfo(BaseModel):
    name: str
    admin: bool
    password_set: bool
    active: bool
    created_at: str
    revoked_at: str | None = None


class NewUser(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=64, examples=["alice"])
    admin: bool = False
    password: str | None = Field(default=None, min_length=8, max_length=1024,
                                 description="For POST /token and the dashboard's sign-in; none: API key only.")


class UserKey(BaseModel):
    user: UserInfo
    api_key: str = Field(description="Shown once: only its hash is kept.")


class AuditAnchor(BaseModel):
    """The head of one host's audit log as its role ended, kept off the host by the coordinator."""

    host: str
    task: str
    seq: int = Field(description="The line of the host's audit log that was last when the role ended.")
    hash: str = Field(description="That line's SHA-256, 64 hex digits.")
    expect: str = Field(description="SEQ:HASH, as `fedpe host audit --data-dir DIR --verify --expect` takes it.")
