"""Starting, watching and stopping the stack's child processes.

Each child runs in its own session (process group) with its output in `{home}/logs/`, so a
Ctrl-C in the terminal reaches only `fedpe up`, which then stops the children in order.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import psutil

from fedpe.errors import StackError


@dataclass
class Child:
    """A process the stack started: enough to find, check and stop it later."""

    name: str
    pid: int
    log: str
    role: str  # "service" | "host" | "runner"

    def alive(self) -> bool:
        try:
            proc = psutil.Process(self.pid)
            return proc.status() != psutil.STATUS_ZOMBIE
        except psutil.NoSuchProcess:
            return False

    def to_dict(self) -> dict:
        return asdict(self)


def port_free(host: str, port: int) -> bool:
    """True when nothing listens on (host, port)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def check_ports(host: str, ports: dict[str, int]) -> None:
    """Refuse to start when a port is taken, naming the service and the option that moves it."""
    taken = [f"{port} ({what})" for what, port in ports.items() if not port_free(host, port)]
    if taken:
        raise StackError(
            f"port(s) already in use on {host}: {', '.join(taken)}. "
            "Stop what uses them (`fedpe down` if it is an earlier stack) or choose other ports "
            "with --prefect-port/--scheduler-port/--dashboard-port/--mlflow-port/--api-port."
        )


def spawn(name: str, argv: list[str], *, env: dict[str, str], logs: Path, role: str = "service",
          nice: int = 0) -> Child:
    """Start `argv` in a session of its own (so it and its children stop together), its output
    in `logs/{name}.log`, `nice` steps below this process's CPU priority (and its session's:
    `_lower_session`)."""
    logs.mkdir(parents=True, exist_ok=True)
    log_path = logs / f"{name}.log"
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(
            argv, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True, preexec_fn=(lambda: os.nice(nice)) if nice else None,
        )
    if nice:
        _lower_session(proc.pid, nice)
    return Child(name=name, pid=proc.pid, log=str(log_path), role=role)


def _lower_session(pid: int, nice: int) -> None:
    """Give the session `pid` leads the CPU weight of `nice`, where the kernel shares the CPU
    between sessions first (sched_autogroup, on by default in many distributions' kernels). There
    a process's own nice counts only against the other processes of its session, and each new
    session starts at nice 0: 25 demo hosts at nice 10 still took 25 shares of the CPU against
    the API's one. During a 25-host MLP training, the p99 of 20 status pollers was 54 ms with the
    hosts' sessions at nice 0 and 12 ms at nice 10 (five interleaved pairs, one federation).
    `Popen` returns once the child has run `setsid` and its program: what that program starts
    later is in the session and shares its weight."""
    try:
        with open(f"/proc/{pid}/autogroup", "w") as group:
            group.write(str(nice))
    except OSError:  # a kernel without autogroups, or the child has already ended
        pass


def tail(path: str, lines: int = 15) -> str:
    try:
        with open(path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            fh.seek(max(0, fh.tell() - 8192))
            return "\n".join(fh.read().decode(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def wait_until(check, *, timeout_s: float, what: str, child: Child | None = None, interval_s: float = 0.2):
    """Poll `check()` until it returns a truthy value; fail naming `what` and the child's log."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            value = check()
        except Exception:
            value = None
        if value:
            return value
        if child is not None and not child.alive():
            raise StackError(f"{what} exited while starting; last lines of {child.log}:\n{tail(child.log)}")
        if time.monotonic() > deadline:
            detail = f"; see {child.log}:\n{tail(child.log)}" if child else ""
            raise StackError(f"{what} was not ready after {timeout_s:.0f} s{detail}")
        time.sleep(interval_s)


def _signal_group(pid: int, sig: int) -> None:
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _running_groups() -> set[int]:
    """The process groups that still have a member that is not a zombie.

    A zombie has ended (its ports and files are closed) and waits only for its parent to collect
    it. The stack's processes outlive `fedpe up`, so their parent is then the machine's init,
    which may collect late: on these machines it did so every 2 s, and `fedpe down` waited for
    each tick, once per wave."""
    groups = set()
    for proc in psutil.process_iter(["status"]):
        if proc.info["status"] == psutil.STATUS_ZOMBIE:
            continue
        try:
            groups.add(os.getpgid(proc.pid))
        except ProcessLookupError:
            pass
    return groups


def stop(children: list[Child], *, timeout_s: float = 15.0) -> None:
    """Stop children in two waves: the hosts and the runner (whose flow runs use them), then the
    services they talk to (Prefect, the scheduler, MLflow, the API).

    A host's worker that is told while its scheduler still answers unregisters and exits at once;
    told after, it waits out its reconnection attempts. Each wave's members stop side by side.
    """
    first = [c for c in children if c.role in ("host", "runner")]
    for group in (first, [c for c in children if c not in first]):
        if not group:
            continue
        for child in group:
            # A host's supervisor stops its worker, the runner its flow runs: the runner's fork
            # server must outlive them to collect them (deployments/serve.py FedpeRunner).
            if child.role in ("host", "runner"):
                try:
                    os.kill(child.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
            else:
                _signal_group(child.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        while True:
            _reap(group)
            running = {c.pid for c in group} & _running_groups()
            if not running or time.monotonic() >= deadline:
                break
            time.sleep(0.1)
        for pid in running:
            _signal_group(pid, signal.SIGKILL)
        _reap(group)


def _reap(children: list[Child]) -> list[Child]:
    """Collect the exit of those that are our own children (a caller that started them itself:
    tests, `fedpe up` in the foreground), so none stays a zombie."""
    for child in children:
        try:
            os.waitpid(child.pid, os.WNOHANG)
        except ChildProcessError:
            pass
    return children
