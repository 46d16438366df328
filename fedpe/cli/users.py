"""`fedpe users add|list|key|password|revoke`: the API's users, their API keys and passwords."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer
from rich.table import Table

from fedpe.cli.options import Home, Json, resolve_home
from fedpe.errors import NotFound

app = typer.Typer(help="Users of the fedpe API: API keys (shown once) and passwords, stored hashed.",
                  no_args_is_help=True)


def _store(home: Path | None):
    from fedpe.auth import UserStore

    return UserStore(resolve_home(home))


def _existing(store, name: str):
    user = store.get(name)
    if user is None:
        raise NotFound(f"no user {name!r} (`fedpe users list` shows them)", field="name")
    return user


def _print_key(key: str) -> None:
    from fedpe.cli.console import console

    console.print("API key (shown once, keep it safe):")
    print(key)


@app.command("add")
def add(
    name: str = typer.Argument(..., help="User name (letters, digits, '.', '_', '@', '-')."),
    admin: bool = typer.Option(False, "--admin", help="May see every execution and disable hosts."),
    password_stdin: bool = typer.Option(False, "--password-stdin",
                                        help="Read a password from stdin (for POST /api/v1/token)."),
    home: Path = Home,
    as_json: bool = Json,
) -> None:
    """Create a user and print its API key once (it is stored hashed and cannot be shown again)."""
    from fedpe.cli.console import console

    password = None
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    user, key = _store(home).add(name, admin=admin, password=password)
    if as_json:
        print(json.dumps({"name": user.name, "api_key": key, "admin": user.is_admin,
                          "password_set": user.has_password}))
        return
    console.print(f"user [bold]{user.name}[/bold] created{' (admin)' if user.is_admin else ''}")
    _print_key(key)


@app.command("list")
def list_users(home: Path = Home, as_json: bool = Json) -> None:
    """List the users: admin or not, password set, revoked or active."""
    from fedpe.cli.console import console

    users = _store(home).list()
    if as_json:
        print(json.dumps([{"name": u.name, "admin": u.is_admin, "password_set": u.has_password,
                           "created_at": u.created_at, "revoked_at": u.revoked_at} for u in users]))
        return
    table = Table("name", "admin", "password", "created", "state")
    for u in users:
        table.add_row(u.name, "yes" if u.is_admin else "", "set" if u.has_password else "",
                      u.created_at[:19], "active" if u.active else f"revoked {u.revoked_at[:19]}")
    console.print(table)


@app.command("key")
def key(name: str = typer.Argument(..., help="An existing user."), home: Path = Home, as_json: bool = Json) -> None:
    """Issue a new API key for NAME and print it once; their previous keys and access tokens stop working.

    A revoked user is enabled again (with their password, if they had one).
    """
    from fedpe.cli.console import console

    store = _store(home)
    before = _existing(store, name)
    user, new_key = store.issue_key(name)
    if as_json:
        print(json.dumps({"name": user.name, "api_key": new_key, "admin": user.is_admin,
                          "password_set": user.has_password, "enabled_again": not before.active}))
        return
    if before.active:
        console.print(f"new API key for user [bold]{user.name}[/bold]; the previous ones no longer work")
    else:
        password = "; their password works again" if user.has_password else ""
        console.print(f"user [bold]{user.name}[/bold] (revoked {before.revoked_at[:19]}) enabled again with a new "
                      f"API key{password}")
    _print_key(new_key)


@app.command("password")
def password(
    name: str = typer.Argument(..., help="An existing user."),
    password_stdin: bool = typer.Option(False, "--password-stdin", help="Read the password from stdin."),
    home: Path = Home,
    as_json: bool = Json,
) -> None:
    """Set NAME's password (for the dashboard's sign-in and POST /api/v1/token); their API keys go on working."""
    from fedpe.cli.console import console

    store = _store(home)
    _existing(store, name)
    if password_stdin:
        secret = sys.stdin.readline().rstrip("\r\n")
    else:
        secret = typer.prompt("new password", hide_input=True, confirmation_prompt=True)
    user = store.set_password(name, secret)
    if as_json:
        print(json.dumps({"name": user.name, "password_set": user.has_password}))
        return
    console.print(f"password of user [bold]{user.name}[/bold] set")


@app.command("revoke")
def revoke(name: str = typer.Argument(...), home: Path = Home, as_json: bool = Json) -> None:
    """Revoke a user: their API keys and access tokens stop working at once (`fedpe users key` enables them again)."""
    from fedpe.cli.console import console

    store = _store(home)
    before = _existing(store, name)
    user = store.revoke(name) if before.active else before
    if as_json:
        print(json.dumps({"name": user.name, "revoked_at": user.revoked_at, "already_revoked": not before.active}))
        return
    if before.active:
        console.print(f"user [bold]{user.name}[/bold] revoked")
    else:
        console.print(f"user [bold]{user.name}[/bold] was already revoked ({user.revoked_at[:19]}); nothing changed")
