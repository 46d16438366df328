"""The root of the `fedpe` command: subcommand groups and the one place errors become exit codes."""

from __future__ import annotations

import sys

import typer
from rich.console import Console

from fedpe.errors import FedpeError, InvalidArgument

app = typer.Typer(name="fedpe", help="fedpe: a federated processing environment.", no_args_is_help=True,
                  pretty_exceptions_enable=False, add_completion=False)
console = Console()
err_console = Console(stderr=True)


def _register() -> None:
    from fedpe.cli import api_client, executions, host, jobs, stack, users

    stack.register(app)
    app.add_typer(host.app, name="host")
    api_client.register(app)
    jobs.register(app)
    app.add_typer(executions.app, name="executions")
    app.add_typer(users.app, name="users")


def main() -> None:
    _register()
    try:
        app(standalone_mode=True)
    except FedpeError as exc:
        err_console.print(f"[red]error:[/red] {exc.message}", highlight=False, soft_wrap=True)
        sys.exit(2 if isinstance(exc, InvalidArgument) else 1)
