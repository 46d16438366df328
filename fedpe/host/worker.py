"""`python -m fedpe.host.worker ARGS`: Dask's `dask worker` command (the same options), whose
process then ends without the interpreter's finalisation (tasks/fast_exit.py): once the worker
has closed (unregistered; its comms, preload and role process closed) nothing is left to do. The
exit code is the command's.
"""

from __future__ import annotations

import sys

from tasks.fast_exit import exit_now


def run(argv: list[str]) -> int:
    """Run `dask worker` with `argv` to its end; its exit code."""
    from distributed.cli.dask_worker import main

    try:
        main.main(args=argv, prog_name="dask worker")  # standalone: it always leaves by SystemExit
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    return code


if __name__ == "__main__":
    code = run(sys.argv[1:])
    exit_now(code)
    sys.exit(code)
