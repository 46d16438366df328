"""Sign in (/login: user name and password, or an API key) and sign out (/logout)."""

from __future__ import annotations

import anyio
from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse

from fedpe.api.deps import State
from fedpe.dashboard.deps import Form, PageUser, first, redirect, render, safe_next, session_of, sessions
from fedpe.dashboard.session import COOKIE, LOGIN_COOKIE, LOGIN_TTL_S
from fedpe.errors import AuthenticationError, InvalidArgument

router = APIRouter()


def _login_form(request: Request, *, next_url: str, message: str | None = None, username: str = "",
                status_code: int = 200):
    cookie, csrf = sessions(request).login_nonce()
    response = render(request, "login.html", {"login_csrf": csrf, "next": next_url, "message": message,
                                              "username": username}, status_code=status_code)
    response.set_cookie(LOGIN_COOKIE, cookie, max_age=LOGIN_TTL_S, path="/login", httponly=True, samesite="strict",
                        secure=request.url.scheme == "https")
    return response


@router.get("/login")
async def login_page(request: Request, next: str | None = None):
    if await session_of(request) is not None:
        return RedirectResponse(safe_next(next), status_code=303)
    return _login_form(request, next_url=safe_next(next))


@router.post("/login")
async def login(request: Request, state: State, values: Form):
    username, password, key = first(values, "username").strip(), first(values, "password"), first(values, "api_key").strip()
    next_url = safe_next(first(values, "next"))
    try:
        if key:
            user = await anyio.to_thread.run_sync(state.users.check_key, key)
        elif username and password:
            user = await anyio.to_thread.run_sync(state.users.check_password, username, password)
        else:
            raise InvalidArgument("username: give a user name and password, or an API key", field="username")
    except (AuthenticationError, InvalidArgument) as exc:
        return _login_form(request, next_url=next_url, message=exc.message, username=username,
                           status_code=exc.status_code)
    store = sessions(request)
    cookie, _ = await anyio.to_thread.run_sync(store.start, user.name)
    response = RedirectResponse(next_url, status_code=303)
    response.set_cookie(COOKIE, cookie, max_age=store.ttl_s, path="/", httponly=True, samesite="strict",
                        secure=request.url.scheme == "https")
    response.delete_cookie(LOGIN_COOKIE, path="/login")
    return response


@router.post("/logout")
async def logout(request: Request, _: PageUser):
    await anyio.to_thread.run_sync(sessions(request).end, request.state.session)
    response = redirect(request, "/login")
    response.delete_cookie(COOKIE, path="/")
    return response
