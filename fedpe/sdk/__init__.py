"""The fedpe Python SDK: a session on the fedpe API with NVFlare's verbs.

    import fedpe

    with fedpe.Session("http://127.0.0.1:8000/api/v1", api_key="...") as session:
        job_id = session.submit_job("health-check", clients=["hospital-a"])
        job = session.wait_for_job(job_id, timeout=300)
        session.download_job_result(job_id, "results")

Needs only httpx, pydantic and the standard library. Every failure is one of `fedpe.errors`,
re-exported here; the models are those of `fedpe.schemas`, the classes the API answers with.
`ToolTask` is the earlier name of `Task` (deprecated; removed in the next release).
"""

import warnings as _warnings

from fedpe.errors import (
    AuthenticationError,
    AuthorizationError,
    Conflict,
    ExecutionFailed,
    FedpeError,
    HostNotAvailable,
    InvalidArgument,
    JobNotFound,
    JobTimeout,
    NoConnection,
    NotFound,
)
from fedpe.sdk._client import AsyncSession, Session
from fedpe.sdk._models import (
    Event,
    Execution,
    ExecutionPage,
    Host,
    LogRecord,
    MonitorReturnCode,
    Task,
    TaskStatus,
    Tool,
)
from fedpe.sdk._spec import SessionSpec
from fedpe.sdk._transport import map_exceptions

__all__ = [
    "AsyncSession",
    "AuthenticationError",
    "AuthorizationError",
    "Conflict",
    "Event",
    "Execution",
    "ExecutionFailed",
    "ExecutionPage",
    "FedpeError",
    "Host",
    "HostNotAvailable",
    "InvalidArgument",
    "JobNotFound",
    "JobTimeout",
    "LogRecord",
    "MonitorReturnCode",
    "NoConnection",
    "NotFound",
    "Session",
    "SessionSpec",
    "Task",
    "TaskStatus",
    "Tool",
    "map_exceptions",
]

_RENAMED = {"ToolTask": "Task"}
"""Earlier public names -> the current ones (deprecated for one release)."""


def __getattr__(name: str) -> object:
    if name in _RENAMED:
        _warnings.warn(f"`fedpe.sdk.{name}` is deprecated and will be removed in the next release: "
                       f"use `fedpe.sdk.{_RENAMED[name]}`", DeprecationWarning, stacklevel=2)
        return globals()[_RENAMED[name]]
    raise AttributeError(f"module 'fedpe.sdk' has no attribute {name!r}")
