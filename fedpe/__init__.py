"""fedpe: a federated processing environment.

`import fedpe` stays light (no Prefect, Dask or MLflow): the SDK and the errors are all an API
user needs. The errors are imported here (standard library only); the SDK (httpx, pydantic)
is imported on first use of `fedpe.Session` and its siblings.
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

__version__ = "0.1.0"

_FROM_SDK = frozenset({"Session", "AsyncSession", "SessionSpec", "MonitorReturnCode", "Execution", "Host", "Tool"})

__all__ = [
    "AsyncSession", "AuthenticationError", "AuthorizationError", "Conflict", "Execution", "ExecutionFailed",
    "FedpeError", "Host", "HostNotAvailable", "InvalidArgument", "JobNotFound", "JobTimeout",
    "MonitorReturnCode", "NoConnection", "NotFound", "Session", "SessionSpec", "Tool", "__version__",
]


def __getattr__(name: str):
    if name in _FROM_SDK:
        from fedpe import sdk

        value = getattr(sdk, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'fedpe' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | _FROM_SDK)
