"""How the CLI reaches the API: which URL and key, `fedpe login`, and the session factory.

The URL is the first of `FEDPE_API_URL`, the one `fedpe login` saved in
`FEDPE_HOME/credentials.json` (mode 0600), and the local stack's (`FEDPE_HOME/stack.json`,
`urls.api`). The key is `FEDPE_API_KEY`, else the saved one when it was saved for that URL.
Commands get their session from `open_session`, which calls `session_factory`: tests replace
it with one sending through an `httpx.MockTransport`.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

import typer

from fedpe.cli.console import console
from fedpe.cli.options import Json
from fedpe.errors import FedpeError, InvalidArgument, NoConnection

if TYPE_CHECKING:
    from fedpe.sdk import Session

CREDENTIALS_FILE = "credentials.json"
STACK_FILE = "stack.json"


def home() -> Path:
    """FEDPE_HOME (default ~/.fedpe), where `fedpe up` and `fedpe login` keep their state."""
    from fedpe.stack.config import default_home

    return default_home()


@dataclass(frozen=True)
class Target:
    """Where the CLI sends its requests and with which key; `source` says where the URL came from."""

    url: str
    api_key: str | None
    source: str


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise FedpeError(f"cannot read {path}: {exc}") from exc
    return data if isinstance(data, dict) else None


def _same_api(a: str | None, b: str | None) -> bool:
    from fedpe.sdk._client import api_url

    try:
        return bool(a and b) and api_url(a) == api_url(b)
    except InvalidArgument:
        return False


def resolve(folder: Path | None = None) -> Target:
    """The API URL and key the CLI uses now (see the module docstring for the order)."""
    folder = folder or home()
    saved = _read_json(folder / CREDENTIALS_FILE) or {}
    stack = _read_json(folder / STACK_FILE) or {}
    candidates = [
        ("FEDPE_API_URL", os.environ.get("FEDPE_API_URL")),
        ("fedpe login", saved.get("url")),
        ("local stack", (stack.get("urls") or {}).get("api")),
    ]
    source, url = next(((name, value) for name, value in candidates if value), ("", None))
    if not url:
        raise NoConnection("no fedpe API configured: run `fedpe login --url URL ...`, set FEDPE_API_URL, "
                           "or start a local federation with `fedpe up`")
    api_key = os.environ.get("FEDPE_API_KEY") or (saved.get("api_key") if _same_api(saved.get("url"), url) else None)
    return Target(url=url, api_key=api_key, source=source)


def _default_factory(url: str, api_key: str | None = None, **login: Any) -> "Session":
    from fedpe.sdk import Session

    return Session(url, api_key, **login)


session_factory: Callable[..., "Session"] = _default_factory
"""`(url, api_key=None, *, username=None, password=None) -> Session`; tests swap it."""


def open_session() -> "Session":
    """A session on the API `resolve` names (use it as a context manager)."""
    target = resolve()
    return session_factory(target.url, target.api_key)


def save_credentials(url: str, api_key: str, kind: str, username: str | None = None,
                     folder: Path | None = None) -> Path:
    """Write `credentials.json` readable by its owner only (created 0600, replaced atomically)."""
    folder = folder or home()
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = folder / CREDENTIALS_FILE
    tmp = folder / f".{CREDENTIALS_FILE}.{os.getpid()}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "w") as handle:
            json.dump({"url": url, "api_key": api_key, "kind": kind, "username": username,
                       "saved_at": datetime.now().astimezone().isoformat(timespec="seconds")}, handle, indent=2)
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def _jsonable(value: Any) -> Any:
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    if isinstance(value, (datetime,)):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.name
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def print_json(value: Any) -> None:
    """Print an API answer (models, lists, dicts) as JSON on stdout, for `--json`."""
    print(json.dumps(value, indent=2, default=_jsonable))


def _read_password() -> str:
    password = sys.stdin.readline().rstrip("\r\n")
    if not password:
        raise InvalidArgument("--password-stdin: no password on standard input", field="password")
    return password


def register(app: typer.Typer) -> None:
    @app.command()
    def login(
        url: str = typer.Option(..., "--url", help="The API, e.g. http://127.0.0.1:8000/api/v1."),
        api_key: str = typer.Option(None, "--api-key", help="An API key (`fedpe users add` prints one)."),
        username: str = typer.Option(None, "--username", help="Log in with a username (and --password-stdin)."),
        password_stdin: bool = typer.Option(False, "--password-stdin", help="Read the password from standard input."),
        as_json: bool = Json,
    ) -> None:
        """Check credentials against the API and save them for later commands (FEDPE_HOME/credentials.json)."""
        if api_key and (username or password_stdin):
            raise InvalidArgument("give either --api-key or --username with --password-stdin, not both", field="api_key")
        if not api_key and not username:
            raise InvalidArgument("give --api-key KEY, or --username NAME --password-stdin", field="api_key")
        if username and not password_stdin:
            raise InvalidArgument("--username needs --password-stdin (the password is never an argument)", field="password")
        if password_stdin and not username:
            raise InvalidArgument("--password-stdin needs --username", field="username")
        login_args = {"username": username, "password": _read_password()} if username else {}
        with session_factory(url, api_key, **login_args) as session:
            session.hosts()  # any authenticated call: a wrong key fails here, before anything is saved
            credential = api_key or session.access_token
            if not credential:
                raise FedpeError("the API returned no access token")
            path = save_credentials(session.url, credential, "api_key" if api_key else "token", username)
            if as_json:
                print_json({"url": session.url, "username": username, "credentials": str(path)})
            else:
                who = f" as {username}" if username else ""
                console.print(f"logged in to {session.url}{who}; credentials saved in {path}", highlight=False)
