"""The FastAPI application: routers under /api/v1, one error format, no 500 from a known failure.

Every error answers `{"error": {"code", "message", "details"}}`; `details.field` names the bad
field of a 422. Exceptions map in one place (`_error_for`): fedpe's own tree, then Prefect's
and the transports' failures (as 404, 422 or 503).
"""

from __future__ import annotations

import contextlib
import logging
import re

import httpx
from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from fedpe import __version__
from fedpe.errors import ERROR_CODES, FedpeError, InvalidArgument, NoConnection, NotFound

logger = logging.getLogger("fedpe.api")
PREFIX = "/api/v1"

#: Codes the API adds to fedpe.errors' for failures that are not exceptions of the tree.
API_ERROR_CODES = {
    "METHOD_NOT_ALLOWED": "Raised when the path exists but not with this HTTP method (405).",
    "INTERNAL_ERROR": "Raised when the API meets a failure it does not know; reported as a bug (500).",
}
_STATUS_CODES = {401: "UNAUTHENTICATED", 403: "FORBIDDEN", 404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED",
                 409: "CONFLICT", 422: "VALIDATION_ERROR"}


def _description() -> str:
    rows = "\n".join(f"| `{code}` | {doc} |" for code, doc in {**ERROR_CODES, **API_ERROR_CODES}.items())
    return f"""fedpe's REST API: FEM's hosts, tools, tasks, data and executions, plus the peers' controls.

**Credentials.** `POST /api/v1/token` (OAuth2 password grant) gives an access token that expires;
an API key from `fedpe users add NAME` works as a bearer credential too. Click *Authorize*: the
password flow fills the token in; or paste an API key under `APIKey`. Streams also accept
`?access_token=`.

**Dashboard.** The same process serves the dashboard at `/` (sign in with the same users).

**Errors.** Every error is `{{"error": {{"code", "message", "details"}}}}`; a 422's `details.field`
names the bad field. 401 without credentials, 403 for another user's execution or data, 404 for
unknown ids. The codes are stable:

| code | meaning |
|---|---|
{rows}
"""


def _body(status: int, code: str, message: str, details: dict | None = None) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message, "details": details or {}}}, status_code=status,
                        headers={"WWW-Authenticate": "Bearer"} if status == 401 else None)


def _error(request: Request, status: int, code: str, message: str, details: dict | None = None):
    """The error as the API's JSON body, or as a page for the dashboard's paths (outside /api/v1)."""
    pages = getattr(request.app.state, "page_errors", None)
    path = request.url.path
    if pages is not None and path != PREFIX and not path.startswith(PREFIX + "/"):
        return pages(request, status, code, message, details or {})
    return _body(status, code, message, details)


def _error_for(exc: Exception) -> FedpeError | None:
    """The fedpe error a known failure stands for; None for the unknown."""
    from prefect.exceptions import ObjectNotFound, PrefectHTTPStatusError

    if isinstance(exc, FedpeError):
        return exc
    if isinstance(exc, ObjectNotFound):
        return NotFound("not found")
    if isinstance(exc, PrefectHTTPStatusError):
        code = exc.response.status_code
        if code == 404:
            return NotFound("not found")
        if code in (409, 422):
            from fedpe.api.services.orchestrator import refused_parameters

            return refused_parameters(exc)
        return NoConnection(f"the Prefect API answered {code}")
    if isinstance(exc, httpx.TransportError):
        return NoConnection(f"a service cannot be reached: {exc}")
    if isinstance(exc, (ConnectionError, TimeoutError, OSError)):
        return NoConnection(f"a service failed: {type(exc).__name__}: {exc}")
    return None


def _field_of(loc) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] in ("body", "query", "path", "header", "cookie"):
        parts = parts[1:]
    return ".".join(parts) or "body"


def _install_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError):
        errors = [{"field": "body" if e.get("type") == "json_invalid" else _field_of(e.get("loc", ())),
                   "message": e.get("msg", ""), "type": e.get("type", "")} for e in exc.errors()]
        first = errors[0] if errors else {"field": "body", "message": "invalid request"}
        return _error(request, 422, InvalidArgument.code, f"{first['field']}: {first['message']}",
                      {"field": first["field"], "errors": errors})

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        return _error(request, exc.status_code, _STATUS_CODES.get(exc.status_code, "ERROR"), str(exc.detail))

    async def any_error(request: Request, exc: Exception):
        known = _error_for(exc)
        if known is not None:
            return _error(request, known.status_code, known.code, known.message, known.details)
        logger.exception("unexpected error on %s %s", request.method, request.url.path)
        return _error(request, 500, "INTERNAL_ERROR", f"unexpected error: {type(exc).__name__}")

    from prefect.exceptions import ObjectNotFound, PrefectHTTPStatusError

    for known_failure in (ObjectNotFound, PrefectHTTPStatusError, httpx.TransportError, OSError, TimeoutError,
                          Exception):
        app.add_exception_handler(known_failure, any_error)

    @app.exception_handler(FedpeError)
    async def fedpe_error(request: Request, exc: FedpeError):
        return _error(request, exc.status_code, exc.code, exc.message, exc.details)


class NormalisePath:
    """`/tools/job//flcore` and `/tools/` route like `/tools/job/flcore` and `/tools`, as FEM
    accepts them (seed 000 spells `/tools/`): answered in place, never with a redirect."""

    _MANY = re.compile(r"/{2,}")

    def __init__(self, app):
        self.app = app

    def _normal(self, path: str) -> str:
        path = self._MANY.sub("/", path)
        return path.rstrip("/") or "/"

    async def __call__(self, scope, receive, send):
        path = scope.get("path", "")
        if scope["type"] in ("http", "websocket") and ("//" in path or (path.endswith("/") and path != "/")):
            scope = dict(scope)
            scope["path"] = self._normal(path)
            if scope.get("raw_path"):
                scope["raw_path"] = self._normal(scope["raw_path"].decode("latin-1")).encode("latin-1")
        await self.app(scope, receive, send)


def create_app(*, dashboard: bool = True) -> FastAPI:
    """The API under /api/v1 (docs at /docs) and, unless `dashboard` is False, the dashboard at /."""
    from fedpe.api.routes import auth, data, executions, health, hosts, jobs, queue, tasks, tools, users
    from fedpe.api.settings import ApiSettings
    from fedpe.api.state import AppState

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        state = AppState(ApiSettings.from_env())
        await state.start()
        app.state.fedpe = state
        try:
            yield
        finally:
            await state.stop()

    app = FastAPI(
        title="fedpe API", version=__version__, description=_description(), lifespan=lifespan,
        docs_url="/docs", openapi_url="/openapi.json",
        swagger_ui_init_oauth={"usePkceWithAuthorizationCodeGrant": False},
        responses={code: {"model": _error_model(), "description": desc} for code, desc in (
            (401, "Missing, wrong or expired credentials"), (403, "Another user's execution or data"),
            (404, "Unknown id"), (422, "A bad field, named in details.field"))},
    )
    _install_handlers(app)
    router = APIRouter(prefix=PREFIX, redirect_slashes=False)
    for module in (health, auth, hosts, tools, tasks, jobs, executions, data, queue, users):
        router.include_router(module.router)
    app.include_router(router)
    if dashboard:
        from fedpe.dashboard import install

        install(app)
    from fedpe.api.polls import StatusPolls

    app.add_middleware(StatusPolls)  # inside NormalisePath: it sees the paths the routes see
    app.add_middleware(NormalisePath)
    return app


def _error_model():
    from fedpe.api.schemas import ErrorBody

    return ErrorBody
