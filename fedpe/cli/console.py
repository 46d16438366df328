"""The CLI's two consoles: what a command prints (stdout) and its errors (stderr).

Its own module so every command module imports it from here and `fedpe.cli.app`, which
gathers the commands, imports them without an import circle.
"""

from rich.console import Console

console = Console()
err_console = Console(stderr=True)
