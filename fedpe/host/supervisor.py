"""Keep a host's worker running: start it, start it again when it exits on its own, stop it on request.

This replaces Dask's nanny for a host. A nanny is a second Dask server per host (its own event
loop, comms and plugins, about 100 MiB); a host needs only this: a worker that loses its
scheduler for longer than its death timeout exits, and comes back here when the link does.
SIGTERM or SIGINT stop the worker cleanly (SIGTERM, then SIGKILL after a grace period) and end
the loop. It imports nothing beyond the standard library.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time

GRACE_S = 30.0
MAX_BACKOFF_S = 30.0


def supervise(argv: list[str], env: dict[str, str], *, max_restarts: int | None = None) -> int:
    """Run `argv` until stopped; returns the exit code to leave with (0 when asked to stop)."""
    stopping = False
    child: subprocess.Popen | None = None

    def stop(signum, _frame) -> None:
        nonlocal stopping
        stopping = True
        if child is not None and child.poll() is None:
            child.send_signal(signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    backoff, restarts = 1.0, 0
    while True:
        started = time.monotonic()
        child = subprocess.Popen(argv, env=env)
        code = _wait(child, lambda: stopping)
        if stopping:
            return 0
        if max_restarts is not None and restarts >= max_restarts:
            return code or 1
        restarts += 1
        if time.monotonic() - started > 60:
            backoff = 1.0  # it ran a while: a new failure, not the same one again
        print(f"fedpe host: worker exited with {code}; starting it again in {backoff:.0f} s", file=sys.stderr,
              flush=True)
        deadline = time.monotonic() + backoff
        while time.monotonic() < deadline and not stopping:
            time.sleep(0.2)
        if stopping:
            return 0
        backoff = min(backoff * 2, MAX_BACKOFF_S)


def _wait(child: subprocess.Popen, stopping) -> int:
    """The child's exit code; once a stop is asked, at most GRACE_S more before SIGKILL."""
    asked_at = None
    while True:
        try:
            return child.wait(timeout=0.5)
        except subprocess.TimeoutExpired:
            pass
        if stopping():
            asked_at = asked_at or time.monotonic()
            if time.monotonic() - asked_at > GRACE_S:
                child.kill()
