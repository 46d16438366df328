"""`python -m fedpe.host.worker`: Dask's `dask worker` command, which leaves without the
interpreter's finalisation; what it said before must still come out, with its exit code."""

from __future__ import annotations

import subprocess
import sys


def _worker(*args: str) -> subprocess.CompletedProcess:
    # Pipes, not a terminal: the output is buffered, and an exit that skipped the flush would lose it.
    return subprocess.run([sys.executable, "-m", "fedpe.host.worker", *args], capture_output=True, text=True,
                          timeout=120)


def test_it_is_dasks_worker_command_and_its_output_survives_the_fast_exit():
    done = _worker("--help")
    assert done.returncode == 0
    assert "Usage: dask worker [OPTIONS] [SCHEDULER]" in done.stdout and "--nthreads" in done.stdout


def test_a_bad_option_keeps_the_commands_exit_code_and_message():
    done = _worker("--nthreads", "many")
    assert done.returncode == 2
    assert "'many' is not a valid integer" in done.stderr


def test_leaving_flushes_the_logs_and_keeps_the_code():
    done = subprocess.run([sys.executable, "-c",
                           "import logging, sys\n"
                           "logging.basicConfig(stream=sys.stdout, format='%(message)s')\n"
                           "logging.warning('last words')\n"
                           "print('and a line', end='')\n"
                           "from tasks.fast_exit import exit_now\n"
                           "exit_now(5)\n"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 5
    assert done.stdout == "last words\nand a line"
