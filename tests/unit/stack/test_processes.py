"""Which process groups `fedpe down` still waits for: a group of zombies has ended."""

from __future__ import annotations

import subprocess
import sys
import time

from fedpe.stack.processes import _running_groups


def _wait_for_zombie(proc: subprocess.Popen, timeout_s: float = 10.0) -> None:
    import psutil

    deadline = time.monotonic() + timeout_s
    while psutil.Process(proc.pid).status() != psutil.STATUS_ZOMBIE:
        assert time.monotonic() < deadline, "the child did not exit"
        time.sleep(0.02)


def test_a_group_counts_as_running_until_its_only_member_has_exited_even_before_it_is_collected():
    child = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE,
                             start_new_session=True)
    try:
        assert child.pid in _running_groups()  # a session of its own: its pid is its group
        child.stdin.close()  # it reads to the end and exits; nobody collects it yet
        _wait_for_zombie(child)
        assert child.pid not in _running_groups()
    finally:
        child.kill()
        child.wait()
