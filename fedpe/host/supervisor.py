"""Keep a host's worker running: start it, start it again when it exits on its own, stop it on request.

This replaces Dask's nanny for a host. A nanny is a second Dask server per host (its own event
loop, comms and plugins, about 100 MiB); a host needs only this: a worker that loses its
scheduler for longer than its death timeout exits, and comes back here when the link does.
SIGTERM or SIGINT stop the worker cleanly (SIGTERM, then SIGKILL after a grace period) and end
the loop. It imports nothing beyond the standard library: `fedpe host start` runs its checks,
then replaces itself with `python -m fedpe.host.supervisor -- WORKER-ARGV` (the same pid, about
14 MiB instead of the CLI's and the checks' 70 MiB).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

GRACE_S = 30.0
MAX_BACKOFF_S = 30.0
#: Written in the worker's argv where its loopback port goes: each start gets a port free at
#: that moment. One chosen once can be taken by the time the worker binds it (it happened to one
#: of 25 hosts started at once), and the worker would then fail on every start, for good.
FREE_PORT = "{fedpe-free-loopback-port}"


def free_loopback_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def with_free_port(argv: list[str]) -> list[str]:
    """`argv` with every FREE_PORT replaced by one port free now."""
    if not any(FREE_PORT in arg for arg in argv):
        return argv
    port = str(free_loopback_port())
    return [arg.replace(FREE_PORT, port) for arg in argv]


def supervise(argv: list[str], env: dict[str, str], *, max_restarts: int | None = None) -> int:
    """Run `argv` until stopped; returns the exit code to leave with (0 when asked to stop).

    It sleeps in `wait()` between events (no polling: an idle host's supervisor uses no CPU);
    a stop signal forwards SIGTERM and arms an alarm that kills the worker after GRACE_S."""
    stopping = False
    child: subprocess.Popen | None = None

    def stop(signum, _frame) -> None:
        nonlocal stopping
        stopping = True
        if child is not None and child.poll() is None:
            child.send_signal(signal.SIGTERM)
            signal.alarm(int(GRACE_S))

    def kill(signum, _frame) -> None:
        if child is not None and child.poll() is None:
            child.kill()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGALRM, kill)
    backoff, restarts = 1.0, 0
    while True:
        started = time.monotonic()
        child = subprocess.Popen(with_free_port(argv), env=env)
        if stopping:  # the signal came while the child was being started
            stop(signal.SIGTERM, None)
        code = child.wait()
        signal.alarm(0)
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


def become(argv: list[str], env: dict[str, str]) -> None:
    """Replace this process with a bare supervisor of `argv` (the worker inherits `env`)."""
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(sys.executable, [sys.executable, "-m", "fedpe.host.supervisor", "--", *argv], env)


if __name__ == "__main__":
    if len(sys.argv) < 3 or sys.argv[1] != "--":
        sys.exit("usage: python -m fedpe.host.supervisor -- WORKER-ARGV...")
    sys.exit(supervise(sys.argv[2:], dict(os.environ)))
