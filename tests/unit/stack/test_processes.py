"""Which process groups `fedpe down` still waits for: a group of zombies has ended. And the
CPU priority of a child started below the launcher's."""

from __future__ import annotations

import subprocess
import os
import signal
import sys
import time
from pathlib import Path

import psutil
import pytest

from fedpe.stack.processes import _running_groups, spawn


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


def test_a_child_started_below_the_launchers_priority_has_its_session_lowered_too(tmp_path):
    """Where the kernel shares the CPU between sessions first (autogroups), a process's own nice
    counts only inside its session: the demo hosts' sessions must be lowered, not just the hosts."""
    child = spawn("sleeper", [sys.executable, "-c", "import time; time.sleep(60)"], env=dict(os.environ),
                  logs=tmp_path, nice=5)
    try:
        assert psutil.Process(child.pid).nice() == os.nice(0) + 5
        if not Path("/proc/self/autogroup").exists():
            pytest.skip("this kernel has no autogroups")
        name, _, nice = Path(f"/proc/{child.pid}/autogroup").read_text().split()
        # A session of its own. The kernel prints nothing for the boot session's group, which is
        # where a launcher started by init (a CI runner, a container's first process) lives.
        assert name not in Path("/proc/self/autogroup").read_text().split()[:1]
        assert nice == "5"
    finally:
        os.killpg(child.pid, signal.SIGKILL)
        psutil.Process(child.pid).wait(10)
