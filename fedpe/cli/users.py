"""`fedpe users add|list|revoke`: the API's users, their API keys and passwords."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer
from rich.table import Table

from fedpe.cli.options import Home, Json, resolve_home

app = typer.Typer(help="Users of the fedpe API: API keys (shown once) and passwords, stored hashed.",
                  no_args_is_help=True)


def _store(home: Path | None):
    from fedpe.auth import UserStore

    return UserStore(resolve_home(home))


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
    from fedpe.cli.app import console

    password = None
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    user, key = _store(home).add(name, admin=admin, password=password)
    if as_json:
        print(json.dumps({"name": user.name, "api_key": key, "admin": user.is_admin,
                          "password_set": user.has_password}))
        return
    console.print(f"user [bold]{user.name}[/bold] created{' (admin)' if user.is_admin else ''}")
    console.print("API key (shown once, keep it safe):")
    print(key)


@app.command("list")
def list_users(home: Path = Home, as_json: bool = Json) -> None:
    """List the users: admin or not, password set, revoked or active."""
    from fedpe.cli.app import console

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


@app.command("revoke")
def revoke(name: str = typer.Argument(...), home: Path = Home, as_json: bool = Json) -> None:
    """Revoke a user: their API keys and access tokens stop working at once."""
    from fedpe.cli.app import console

    user = _store(home).revoke(name)
    if as_json:
        print(json.dumps({"name": user.name, "revoked_at": user.revoked_at}))
        return
    console.print(f"user [bold]{user.name}[/bold] revoked")
