"""What the dashboard's routes share: the signed-in user, CSRF, templates, forms and redirects.

`PageUser` / `AdminPage` are the dashboard's `CurrentUser` / `AdminUser`: the same users,
found through the session cookie instead of a bearer credential. Every state-changing request of
the dashboard passes `check_csrf` (a dependency of the whole router, so none can forget it).
"""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import parse_qs, quote, urlsplit

import anyio
from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from fedpe import __version__
from fedpe.api.deps import State, get_state, require_admin
from fedpe.auth.users import User
from fedpe.dashboard import format as fmt
from fedpe.dashboard.session import COOKIE, CSRF_FIELD, CSRF_HEADER, LOGIN_COOKIE, Session, Sessions
from fedpe.errors import AuthenticationError, AuthorizationError, InvalidArgument

HERE = Path(__file__).parent
STATIC = HERE / "static"
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
_UNSET = object()

templates = Jinja2Templates(directory=str(HERE / "templates"))


@functools.lru_cache(maxsize=None)
def _digest(path: str) -> str:
    return hashlib.sha256((STATIC / path).read_bytes()).hexdigest()[:10]


def static_url(path: str) -> str:
    """A static file's URL with its content hash, so a new release is never served from cache."""
    return f"/static/{path}?v={_digest(path)}"


templates.env.globals.update(static_url=static_url, version=__version__)
templates.env.filters.update(bytes=fmt.size, iso=fmt.iso, when=fmt.when, ago=fmt.ago, number=fmt.number,
                             seconds=fmt.seconds)


def sessions(request: Request) -> Sessions:
    """The sessions of the app's FEDPE_HOME (one object per app)."""
    found = getattr(request.app.state, "dashboard_sessions", None)
    if found is None:
        settings = get_state(request).settings
        found = request.app.state.dashboard_sessions = Sessions(settings.home, settings.session_ttl_s)
    return found


async def session_of(request: Request) -> Session | None:
    if getattr(request.state, "session", _UNSET) is _UNSET:
        request.state.session = await anyio.to_thread.run_sync(sessions(request).read, request.cookies.get(COOKIE))
    return request.state.session


async def page_user(request: Request, state: State) -> User:
    """The active user of the session; AuthenticationError (a redirect to /login) otherwise."""
    session = await session_of(request)
    if session is None:
        raise AuthenticationError("sign in to continue")
    user = await anyio.to_thread.run_sync(lambda: state.users.active(session.user, issued_at=session.created_at))
    request.state.user = user
    return user


async def admin_page(user: Annotated[User, Depends(page_user)]) -> User:
    return require_admin(user)


PageUser = Annotated[User, Depends(page_user)]
AdminPage = Annotated[User, Depends(admin_page)]


def _is_form(request: Request) -> bool:
    return request.headers.get("content-type", "").split(";")[0].strip() in ("", "application/x-www-form-urlencoded")


async def form(request: Request) -> dict[str, list[str]]:
    """An urlencoded form body as name -> values (FastAPI's Form() needs python-multipart)."""
    if getattr(request.state, "form", _UNSET) is _UNSET:
        raw = await request.body()
        if not _is_form(request):
            raise InvalidArgument("body: send the form as application/x-www-form-urlencoded", field="body")
        try:
            request.state.form = parse_qs(raw.decode(), keep_blank_values=True)
        except UnicodeDecodeError:
            raise InvalidArgument("body: not UTF-8 form data", field="body") from None
    return request.state.form


Form = Annotated[dict[str, list[str]], Depends(form)]


def first(values: dict[str, list[str]], name: str, default: str = "") -> str:
    return (values.get(name) or [default])[0]


async def check_csrf(request: Request) -> None:
    """Refuse a state-changing request without the CSRF token of its session (or sign-in form)."""
    if request.method in SAFE_METHODS:
        return
    token = request.headers.get(CSRF_HEADER)
    if not token and _is_form(request):
        token = first(await form(request), CSRF_FIELD) or None
    store = sessions(request)
    if request.url.path == "/login":
        if not store.login_csrf_ok(request.cookies.get(LOGIN_COOKIE), token):
            raise AuthorizationError("the sign-in form expired or came from another site: reload it and try again",
                                     field=CSRF_FIELD)
        return
    session = await session_of(request)
    if session is None:
        raise AuthenticationError("sign in to continue")
    if not store.csrf_ok(session, token):
        raise AuthorizationError("missing or wrong CSRF token: reload the page and try again", field=CSRF_FIELD)


def is_htmx(request: Request) -> bool:
    return request.headers.get("HX-Request") == "true"


#: Pages are never cached (a new key is shown once), framed by another site, or sniffed as another type.
PAGE_HEADERS = {"Cache-Control": "no-store", "X-Frame-Options": "DENY", "X-Content-Type-Options": "nosniff",
                "Referrer-Policy": "same-origin", "Content-Security-Policy": "frame-ancestors 'none'"}


def render(request: Request, name: str, context: dict[str, Any] | None = None, *, status_code: int = 200,
           headers: dict[str, str] | None = None) -> HTMLResponse:
    """A template with what every page needs: the user, the CSRF token, the current path."""
    session: Session | None = getattr(request.state, "session", None)
    base = {
        "user": getattr(request.state, "user", None),
        "csrf": sessions(request).csrf_token(session) if session else "",
        "path": request.url.path,
    }
    return templates.TemplateResponse(request, name, {**base, **(context or {})}, status_code=status_code,
                                      headers={**PAGE_HEADERS, **(headers or {})})


def redirect(request: Request, url: str) -> Response:
    """Go to `url`: htmx follows HX-Redirect with a full page load, a plain form a 303."""
    if is_htmx(request):
        return Response(status_code=200, headers={"HX-Redirect": url})
    return RedirectResponse(url, status_code=303)


def login_url(request: Request) -> str:
    """/login, with the page to come back to (for a fragment: the page it was on)."""
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    if is_htmx(request):
        current = urlsplit(request.headers.get("HX-Current-URL", "/"))
        target = (current.path or "/") + (f"?{current.query}" if current.query else "")
    target = safe_next(target)
    return "/login" if target in ("/", "/login") else f"/login?next={quote(target, safe='')}"


def safe_next(target: str | None) -> str:
    """A place inside the dashboard to go after signing in (never another site)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target
