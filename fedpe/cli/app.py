"""The root of the `fedpe` command: subcommand groups and the one place errors become exit codes.

Every error is one line on stderr, `Error: …` as click words it: exit 2 when the input was
wrong (a usage error, an invalid argument, an id or name that names nothing), 1 for everything
else (a service that cannot be reached, an execution that failed, credentials refused).
"""

from __future__ import annotations

import sys
from typing import NoReturn

import typer
from rich.markup import escape

from fedpe.cli.console import console, err_console  # noqa: F401  (tests and callers find them here too)
from fedpe.errors import FedpeError, InvalidArgument, NotFound

try:  # typer from 0.2x on ships its own copy of click; older ones use click itself
    from typer._click import exceptions as click_errors
except ImportError:  # pragma: no cover - depends on the installed typer
    from click import exceptions as click_errors

app = typer.Typer(name="fedpe", help="fedpe: a federated processing environment.", no_args_is_help=True,
                  pretty_exceptions_enable=False, add_completion=False)

USER_INPUT_ERRORS = (InvalidArgument, NotFound)
"""Raised because of what the user typed: exit 2, like a usage error."""


def _register() -> None:
    from fedpe.cli import api_client, executions, host, jobs, stack, users

    stack.register(app)
    app.add_typer(host.app, name="host")
    api_client.register(app)
    jobs.register(app)
    app.add_typer(executions.app, name="executions")
    app.add_typer(users.app, name="users")
    from fedpe.cli import tls
    app.add_typer(tls.app, name="tls")


def fail(message: str, code: int) -> NoReturn:
    """Print `Error: message` on one line of stderr and exit with `code`."""
    err_console.print(f"[red]Error:[/red] {escape(message)}", highlight=False, soft_wrap=True)
    sys.exit(code)


def exit_code(exc: FedpeError) -> int:
    return 2 if isinstance(exc, USER_INPUT_ERRORS) else 1


def main() -> None:
    _register()
    try:
        # Not standalone: click's usage errors come here, to be printed like fedpe's own.
        code = app(standalone_mode=False)
    except click_errors.NoArgsIsHelpError as exc:
        sys.exit(exc.exit_code)  # the help was printed already
    except click_errors.UsageError as exc:
        message = exc.format_message().rstrip()
        if exc.ctx is not None:
            message += f"{'' if message.endswith(('.', '!', '?')) else '.'} Try '{exc.ctx.command_path} --help'."
        fail(message, exc.exit_code)
    except click_errors.ClickException as exc:
        fail(exc.format_message(), exc.exit_code)
    except typer.Abort:
        fail("aborted", 1)
    except FedpeError as exc:
        fail(exc.message, exit_code(exc))
    sys.exit(code if isinstance(code, int) else 0)
