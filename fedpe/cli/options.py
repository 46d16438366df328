"""Options shared by several commands."""

from pathlib import Path

import typer

from fedpe.stack.config import default_home

Home = typer.Option(None, "--home", help="State folder of the stack (default: FEDPE_HOME or ~/.fedpe).")
Json = typer.Option(False, "--json", help="Print JSON for scripts.")


def resolve_home(home: Path | None) -> Path:
    return home.expanduser().resolve() if home else default_home()
