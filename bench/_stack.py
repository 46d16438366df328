"""A federation of a benchmark's own: free loopback ports, a temporary FEDPE_HOME, stopped on exit."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Iterator

import psutil


#: The fedpe CLI, as a user runs it.
FEDPE = [sys.executable, "-m", "fedpe.cli"]
SERVICES = ("prefect", "scheduler", "dashboard", "mlflow", "api")


def fedpe(*args: str, env: dict | None = None, timeout: float = 900) -> subprocess.CompletedProcess:
    """One `fedpe` command, its output captured."""
    return subprocess.run([*FEDPE, *args], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})})


def up_options(home: Path, hosts: int) -> tuple[list[str], dict[str, str]]:
    """(`fedpe up` options for a federation of `hosts` under `home` on free ports, the ports)."""
    ports = {service: str(free_port()) for service in SERVICES}
    options = ["--home", str(home), "--hosts", str(hosts)]
    for service, port in ports.items():
        options += [f"--{service}-port", port]
    return options, ports


def api_key(home: Path, user: str, *, admin: bool = False) -> str:
    """A new user's API key (`fedpe users add`) in the federation under `home`."""
    out = fedpe("users", "add", user, *(["--admin"] if admin else []), "--json", "--home", str(home),
                env={"FEDPE_HOME": str(home)})
    if out.returncode != 0:
        raise SystemExit(f"fedpe users add {user} failed: {out.stderr[-2000:]}")
    return json.loads(out.stdout)["api_key"]


def free_port() -> int:
    from fedpe.host.supervisor import free_loopback_port

    return free_loopback_port()


@contextlib.contextmanager
def bench_stack(prefix: str, **options: Any) -> Iterator[Any]:
    """`fedpe up` on free ports under a new temporary home; this process's env points at it
    (with the credentials `fedpe env` prints).

    `options` go to StackConfig (hosts, partition, alpha, serve_api, ...). Prefect reads its
    settings when first imported, so callers import Prefect only inside the block.
    """
    home = Path(tempfile.mkdtemp(prefix=prefix))
    ports = {k: free_port() for k in SERVICES}
    os.environ.update({
        "FEDPE_HOME": str(home), "PREFECT_HOME": str(home / "prefect-client"),
        "PREFECT_API_URL": f"http://127.0.0.1:{ports['prefect']}/api",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "MLFLOW_TRACKING_URI": f"http://127.0.0.1:{ports['mlflow']}",
        "FEDPE_STORE_URL": f"file://{home}/store",
    })
    from fedpe.stack.secrets import ensure_secrets

    # Prefect and MLflow refuse callers without credentials, and Prefect reads its settings
    # once, when first imported (which `launcher.up` may do): the caller's are set before.
    secrets = ensure_secrets(home)
    os.environ.update({**secrets.prefect_client_env(), **secrets.mlflow_client_env()})
    from fedpe.stack import launcher
    from fedpe.stack.config import StackConfig

    config = StackConfig(home=home, prefect_port=ports["prefect"], scheduler_port=ports["scheduler"],
                         dashboard_port=ports["dashboard"], mlflow_port=ports["mlflow"], api_port=ports["api"],
                         **options)
    print(f"starting a federation of {config.hosts} hosts in {home} ...", flush=True)
    stack = launcher.up(config)
    os.environ.update(stack.env(with_secrets=True))  # what `fedpe env` gives a caller: the credentials too
    print(f"ready in {stack.ready_s} s", flush=True)
    try:
        yield stack
    finally:
        launcher.down(home)


def processes(home: Path) -> list[psutil.Process]:
    """Every process the federation under `home` started, children included."""
    stack = json.loads((home / "stack.json").read_text())
    found = []
    for child in stack["children"]:
        try:
            parent = psutil.Process(child["pid"])
            found += [parent, *parent.children(recursive=True)]
        except psutil.NoSuchProcess:
            continue
    return found


def _command(proc: psutil.Process) -> str:
    try:
        return " ".join(proc.cmdline())
    except psutil.Error:  # it ended meanwhile
        return ""


def roles_left(home: Path, timeout_s: float = 90) -> None:
    """Wait until every host's role process has ended (30 s after its last role): idle means
    the last execution's roles are gone, and a process that ends mid-window would take its CPU
    time out of the sum."""
    deadline = time.monotonic() + timeout_s
    time.sleep(2)
    while any("tasks.host.role_main" in _command(p) for p in processes(home)):
        if time.monotonic() > deadline:
            raise SystemExit("the hosts' role processes did not end after their linger")
        time.sleep(0.5)
