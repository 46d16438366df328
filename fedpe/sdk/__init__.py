"""The fedpe Python SDK: a session on the fedpe API with NVFlare's verbs.

    import fedpe

    with fedpe.Session("http://127.0.0.1:8000/api/v1", api_key="...") as session:
        job_id = session.submit_job("health-check", clients=["hospital-a"])
        job = session.wait_for_job(job_id, timeout=300)
        session.download_job_result(job_id, "results")

Needs only httpx, pydantic and the standard library. Every failure is one of `fedpe.errors`,
re-exported here.
"""

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
    TaskStatus,
    Tool,
    ToolTask,
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
    "TaskStatus",
    "Tool",
    "ToolTask",
    "map_exceptions",
]
