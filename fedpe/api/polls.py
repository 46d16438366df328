"""FEM's status poll answered before FastAPI's routing and dependency injection.

FEM clients poll `GET /api/v1/executions/status/{id}` all through an execution, often many at
once. The answer is the execution's cached status bytes (`Snapshot.status_json`), but routing it
through FastAPI (matching some hundred routes, solving the route's dependencies) cost about as
much CPU again as everything else the request needed. This middleware answers that one request
itself, with the same two calls the route makes: the caller from `deps.user_on_loop` and the
bytes from `Executions.status_json`. Anything else, and any poll it cannot answer plainly (no
credential, one that needs argon2, an unknown or another user's execution, a query string),
goes on to the app unchanged, which answers it, errors included, as the route always has.
"""

from __future__ import annotations

from fastapi.security.utils import get_authorization_scheme_param
from starlette.datastructures import Headers

from fedpe.api.deps import user_on_loop

#: The route's path up to the execution id (fedpe/api/routes/executions.py `status`).
STATUS_PATH = "/api/v1/executions/status/"
_HEADERS = [(b"content-type", b"application/json")]


def _bearer(scope: dict) -> str | None:
    """The bearer credential, read as the route's HTTPBearer reads it."""
    scheme, credential = get_authorization_scheme_param(Headers(scope=scope).get("authorization"))
    return credential if scheme.lower() == "bearer" and credential else None


class StatusPolls:
    """ASGI middleware: the status poll of a caller known without blocking, answered at once."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        body = await self._answer(scope) if scope["type"] == "http" else None
        if body is None:
            await self.app(scope, receive, send)
            return
        await send({"type": "http.response.start", "status": 200,
                    "headers": [*_HEADERS, (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})

    async def _answer(self, scope: dict) -> bytes | None:
        path = scope["path"]
        if scope["method"] != "GET" or not path.startswith(STATUS_PATH) or scope.get("query_string"):
            return None
        execution_id = path[len(STATUS_PATH):]
        if not execution_id or "/" in execution_id:
            return None
        state = getattr(scope["app"].state, "fedpe", None)
        credential = _bearer(scope)
        if state is None or not credential:
            return None
        try:
            user = user_on_loop(state, credential)
            return None if user is None else await state.executions.status_json(execution_id, user)
        except Exception:  # noqa: BLE001 - the route answers it again, mapped to the API's error body
            return None
