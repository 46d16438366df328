"""The `fedpe` command (typer + rich). Subcommands import what they need when they run."""

from fedpe.cli.app import app, main

__all__ = ["app", "main"]
