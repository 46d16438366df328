"""`python -m fedpe.host.worker ARGS`: Dask's `dask worker` command (the same options), which then
leaves without the interpreter's finalisation.

Once the worker has closed (unregistered, its comms, preload and role process closed), nothing
is left to do, yet Python's finalisation went through everything the worker had imported:
py-spy put most of a host's `fedpe down` there, and at 25 hosts the workers' share of the CPU
`fedpe down` used was 4.2 s of 5.8 s. The logs are flushed first; the exit code is the command's.
"""

from __future__ import annotations

import logging
import os
import sys


def run(argv: list[str]) -> int:
    """Run `dask worker` with `argv` to its end; its exit code."""
    from distributed.cli.dask_worker import main

    try:
        main.main(args=argv, prog_name="dask worker")  # standalone: it always leaves by SystemExit
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    return code


def leave(code: int) -> None:
    """Flush what the process has said, then end it without finalisation."""
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # closed, or a pipe nobody reads any more
            pass
    os._exit(code)


if __name__ == "__main__":
    leave(run(sys.argv[1:]))
