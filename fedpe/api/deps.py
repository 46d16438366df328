"""Dependencies of the routes: the app state and the caller.

Credentials: `Authorization: Bearer <access token or API key>`. Browsers that cannot set
headers (EventSource, WebSocket) pass `?access_token=`, on the event streams only
(`StreamUser`): a credential in a URL lands in logs and histories, and a link that carries one
must never be able to change anything (cancel a run, delete it). Both header schemes appear in
the OpenAPI document, so /docs's Authorize button offers the password flow and a plain bearer key.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.concurrency import run_in_threadpool
from fastapi.security import APIKeyQuery, HTTPAuthorizationCredentials, HTTPBearer, OAuth2PasswordBearer

from fedpe.api.state import AppState
from fedpe.auth.keys import looks_like_key
from fedpe.auth.tokens import read_token
from fedpe.auth.users import User
from fedpe.errors import AuthenticationError, AuthorizationError

TOKEN_URL = "/api/v1/token"

oauth2 = OAuth2PasswordBearer(tokenUrl=TOKEN_URL, auto_error=False, scheme_name="OAuth2Password",
                              description="User name and password (set with `fedpe users add NAME --password-stdin`).")
bearer = HTTPBearer(auto_error=False, scheme_name="APIKey",
                    description="An API key from `fedpe users add` (fpk_...) or an access token.")
query_token = APIKeyQuery(name="access_token", auto_error=False, scheme_name="AccessTokenQuery",
                          description="The same credential as a query parameter, for EventSource and WebSocket.")


def get_state(request: Request) -> AppState:
    return request.app.state.fedpe


async def _state(request: Request) -> AppState:
    return get_state(request)


#: An `async` dependency: FastAPI runs a plain `def` one in a worker thread, one more hop per request.
State = Annotated[AppState, Depends(_state)]


def authenticate(state: AppState, credential: str | None) -> User:
    """The active user a credential (API key or access token) stands for; 401 otherwise."""
    if not credential:
        raise AuthenticationError("credentials required: Authorization: Bearer <access token or API key>")
    if looks_like_key(credential):
        return state.users.check_key(credential)
    claims = read_token(state.settings.home, credential)
    return state.users.active(claims.user, issued_at=claims.issued_at)


def user_on_loop(state: AppState, credential: str) -> User | None:
    """The caller, where finding out blocks for no time: an access token (its signature and one
    indexed read) or a key verified lately (one indexed read); None when the key needs argon2.
    Polls then cost no thread hop: on a busy machine each wake-up of another thread is a wait
    for a time slice, and FEM clients poll all day. AuthenticationError for a bad credential."""
    if looks_like_key(credential):
        return state.users.check_key(credential, known_only=True)
    return authenticate(state, credential)


async def current_user(
    request: Request,
    token: Annotated[str | None, Security(oauth2)] = None,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Security(bearer)] = None,
) -> User:
    """The caller: on the event loop when that blocks for no time (`user_on_loop`), else argon2
    in a worker thread."""
    credential = token or (credentials.credentials if credentials else None)
    if not credential and "access_token" in request.query_params:
        raise AuthenticationError("?access_token= is accepted on the event streams only; send the credential "
                                  "in the Authorization header")
    state = get_state(request)
    known = user_on_loop(state, credential) if credential else None
    if known is not None:
        return known
    return await run_in_threadpool(authenticate, state, credential)


def stream_user(
    request: Request,
    token: Annotated[str | None, Security(oauth2)] = None,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Security(bearer)] = None,
    access_token: Annotated[str | None, Security(query_token)] = None,
) -> User:
    """The caller of an event stream (read-only): the header's credential, or ?access_token=."""
    credential = token or (credentials.credentials if credentials else None) or access_token
    return authenticate(get_state(request), credential)


def require_admin(user: User) -> User:
    """The user, if an admin; one rule for the API's `AdminUser` and the dashboard's `AdminPage`."""
    if not user.is_admin:
        raise AuthorizationError("admins only")
    return user


async def admin_user(user: Annotated[User, Depends(current_user)]) -> User:
    return require_admin(user)


CurrentUser = Annotated[User, Depends(current_user)]
StreamUser = Annotated[User, Depends(stream_user)]
AdminUser = Annotated[User, Depends(admin_user)]
