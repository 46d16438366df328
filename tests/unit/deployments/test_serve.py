"""The runner's kill cadence: at most KILL_GRACE_S of grace, whatever Prefect asks for."""

from __future__ import annotations

import asyncio

from deployments.serve import KILL_GRACE_S, _kill_sooner


def test_kill_sooner_caps_the_grace_and_keeps_the_rest():
    calls = []

    async def kill(flow_run_id, grace_seconds=30.0, *, force=False):
        calls.append((flow_run_id, grace_seconds, force))

    asyncio.run(_kill_sooner(kill, "run-1"))
    asyncio.run(_kill_sooner(kill, "run-2", 3.0))
    asyncio.run(_kill_sooner(kill, "run-3", 30.0, force=True))
    assert calls == [("run-1", KILL_GRACE_S, False), ("run-2", 3.0, False), ("run-3", KILL_GRACE_S, True)]


def test_the_stopped_runner_leaves_after_its_exit_handlers_with_code_0(tmp_path):
    """`exit_now` skips Python's finalisation, not the exit handlers (Prefect's and logging's flushes)."""
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c",
                           "import atexit, sys\n"
                           f"atexit.register(lambda: open({str(tmp_path / 'ran')!r}, 'w').write('yes'))\n"
                           "print('buffered', end='')\n"
                           "from tasks.fast_exit import exit_now\n"
                           "exit_now(0)\n"
                           "raise SystemExit(3)\n"], capture_output=True, text=True, timeout=120)
    assert (done.returncode, done.stdout) == (0, "buffered")
    assert (tmp_path / "ran").read_text() == "yes"
