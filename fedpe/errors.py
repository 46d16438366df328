"""The one exception tree of fedpe, shared by the tools, the API and the SDK.

Every error has a stable `code` (listed in the API docs) and the HTTP status it maps to;
the API turns an exception into `{"error": {"code", "message", "details"}}` and the SDK
turns that body back into the same exception with `from_response`. Imports nothing heavy.

    FedpeError
    ├── InvalidArgument (ValueError)            422 VALIDATION_ERROR
    │   └── HostNotAvailable                    422 HOST_NOT_AVAILABLE
    ├── AuthenticationError                     401 UNAUTHENTICATED
    ├── AuthorizationError (PermissionError)    403 FORBIDDEN
    │   └── PolicyRefused                       403 POLICY_REFUSED
    ├── NotFound (LookupError)                  404 NOT_FOUND
    │   └── JobNotFound                         404 EXECUTION_NOT_FOUND
    ├── Conflict                                409 CONFLICT
    ├── NoConnection (ConnectionError)          503 SERVICE_UNAVAILABLE
    ├── JobTimeout (TimeoutError)               504 TIMEOUT
    ├── ExecutionFailed                         409 EXECUTION_FAILED (raised client-side on a failed job)
    ├── StackError                              503 STACK_ERROR (CLI: a part of the local stack did not start)
    ├── RoleFailed                              409 ROLE_FAILED
    ├── RoleLost                                503 HOST_LOST
    ├── NotEnoughClients                        409 NOT_ENOUGH_CLIENTS
    ├── RoleRefused                             409 ROLE_REFUSED
    └── CallRefused                             403 CALL_REFUSED
"""

from __future__ import annotations

from typing import Any, ClassVar


class FedpeError(Exception):
    """Raised when anything in fedpe fails in a way a user can act on."""

    code: ClassVar[str] = "ERROR"
    status_code: ClassVar[int] = 400

    def __init__(self, message: str, *, details: dict[str, Any] | None = None, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.details = dict(details or {})
        if field is not None:
            self.details.setdefault("field", field)

    @property
    def field(self) -> str | None:
        return self.details.get("field")

    def to_body(self) -> dict[str, Any]:
        """The API's error body for this exception."""
        return {"error": {"code": self.code, "message": self.message, "details": self.details}}


class InvalidArgument(FedpeError, ValueError):
    """Raised when a request or parameter is invalid; `details["field"]` names the field."""

    code = "VALIDATION_ERROR"
    status_code = 422


class HostNotAvailable(InvalidArgument):
    """Raised when a requested host is unknown, disconnected or disabled."""

    code = "HOST_NOT_AVAILABLE"


class AuthenticationError(FedpeError):
    """Raised when credentials are missing, wrong or expired."""

    code = "UNAUTHENTICATED"
    status_code = 401


class AuthorizationError(FedpeError, PermissionError):
    """Raised when the caller may not touch this resource (another user's execution, admin only)."""

    code = "FORBIDDEN"
    status_code = 403


class PolicyRefused(AuthorizationError):
    """Raised when a host's own policy refuses a role (its tools, owners, datasets or privacy floor)."""

    code = "POLICY_REFUSED"


class NotFound(FedpeError, LookupError):
    """Raised when an id names nothing."""

    code = "NOT_FOUND"
    status_code = 404


class JobNotFound(NotFound):
    """Raised when an execution id names no execution."""

    code = "EXECUTION_NOT_FOUND"


class Conflict(FedpeError):
    """Raised when a request clashes with stored state (a submit token reused with another request)."""

    code = "CONFLICT"
    status_code = 409


class NoConnection(FedpeError, ConnectionError):
    """Raised when a service (API, Prefect, scheduler, MLflow, store) cannot be reached."""

    code = "SERVICE_UNAVAILABLE"
    status_code = 503


class JobTimeout(FedpeError, TimeoutError):
    """Raised when waiting for an execution outlasts the given timeout."""

    code = "TIMEOUT"
    status_code = 504


class ExecutionFailed(FedpeError):
    """Raised when an execution ends failed and the caller asked for its result."""

    code = "EXECUTION_FAILED"
    status_code = 409


class StackError(FedpeError):
    """Raised when a process of the local stack cannot start (port taken, not healthy in time)."""

    code = "STACK_ERROR"
    status_code = 503


class RoleFailed(FedpeError):
    """Raised when a role ends in failure on its host (its own error), or its policy refused it."""

    code = "ROLE_FAILED"
    status_code = 409


class RoleLost(FedpeError):
    """Raised when a role's host stops answering, or its Dask task is lost, before the role ends."""

    code = "HOST_LOST"
    status_code = 503


class NotEnoughClients(FedpeError):
    """Raised when fewer than `min_clients` clients answer a round."""

    code = "NOT_ENOUGH_CLIENTS"
    status_code = 409


class RoleRefused(FedpeError):
    """Raised on a host for a role it cannot play: one meant for another host, or a task it has no role for."""

    code = "ROLE_REFUSED"
    status_code = 409


class CallRefused(FedpeError):
    """Raised on a host for a call beyond what its role was started for (more rounds, a second final,
    an update without the host's privacy floor)."""

    code = "CALL_REFUSED"
    status_code = 403


_BY_CODE: dict[str, type[FedpeError]] = {
    cls.code: cls
    for cls in (
        FedpeError, InvalidArgument, HostNotAvailable, AuthenticationError, AuthorizationError, PolicyRefused,
        NotFound, JobNotFound, Conflict, NoConnection, JobTimeout, ExecutionFailed, StackError,
        RoleFailed, RoleLost, NotEnoughClients, RoleRefused, CallRefused,
    )
}
_BY_STATUS: dict[int, type[FedpeError]] = {
    401: AuthenticationError, 403: AuthorizationError, 404: NotFound, 409: Conflict,
    422: InvalidArgument, 503: NoConnection, 504: JobTimeout,
}

ERROR_CODES: dict[str, str] = {cls.code: (cls.__doc__ or "").strip() for cls in _BY_CODE.values()}


def from_response(status_code: int, body: Any) -> FedpeError:
    """Build the exception an API error response stands for (unknown codes fall back by status)."""
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        cls = _BY_CODE.get(str(error.get("code")), _BY_STATUS.get(status_code, FedpeError))
        return cls(str(error.get("message") or f"HTTP {status_code}"), details=error.get("details") or {})
    if isinstance(body, dict) and "detail" in body:
        return _BY_STATUS.get(status_code, FedpeError)(str(body["detail"]))
    return _BY_STATUS.get(status_code, FedpeError)(f"HTTP {status_code}: {str(body)[:200]}")
