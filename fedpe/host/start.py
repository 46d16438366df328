"""`fedpe host start`: turn this machine into a host of a federation.

It needs only the scheduler's address: the Prefect API URL and the MLflow URI come from the
federation record that `fedpe up` left in the scheduler's metadata. After its checks it
replaces itself (exec) with a Dask worker nanny of the host's name, so the pid a launcher
holds is the nanny's and ending it stops the worker cleanly.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import NoReturn

from fedpe.errors import HostNotAvailable, InvalidArgument, NoConnection


def preflight(name: str, scheduler: str, data_dir: Path, *, timeout_s: float = 5.0) -> dict:
    """Check that the host can join; return the federation record the scheduler holds."""
    if not name or "/" in name or name.startswith("-"):
        raise InvalidArgument(f"--name: invalid host name {name!r}", field="name")
    if not data_dir.is_dir():
        raise InvalidArgument(f"--data-dir: {data_dir} is not a folder", field="data_dir")
    from distributed import Client

    from tasks.hosts import FEDERATION_METADATA_KEY, connected_hosts

    try:
        client = Client(scheduler, timeout=f"{timeout_s}s", set_as_default=False)
    except (OSError, TimeoutError) as exc:
        raise NoConnection(f"cannot reach the Dask scheduler at {scheduler}: {exc}") from None
    try:
        if name in connected_hosts(client):
            raise HostNotAvailable(f"--name: a host named {name!r} is already connected to {scheduler}", field="name")
        return dict(client.get_metadata([FEDERATION_METADATA_KEY], default={}) or {})
    finally:
        client.close()


def worker_env(name: str, data_dir: Path, federation: dict) -> dict[str, str]:
    """The environment of the host's worker: the federation's URLs and one BLAS thread per role."""
    env = dict(os.environ)
    env.update({
        "FEDPE_HOST_NAME": name,
        "FEDPE_HOST_DATA_DIR": str(data_dir.resolve()),
        # Roles are threads of one worker process; BLAS threads would fight over the cores.
        "OMP_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    })
    for key, var in (("prefect_api_url", "PREFECT_API_URL"), ("mlflow_tracking_uri", "MLFLOW_TRACKING_URI")):
        if federation.get(key):
            env[var] = federation[key]
    if "PREFECT_API_URL" not in env:
        # Without it, any Prefect client call on the worker would start a throwaway server.
        raise NoConnection("the federation gave no Prefect API URL and PREFECT_API_URL is not set")
    return env


def start_host(name: str, scheduler: str, data_dir: Path, *, nthreads: int = 4) -> NoReturn:
    """Run the checks, then exec the Dask worker nanny for this host."""
    federation = preflight(name, scheduler, data_dir)
    env = worker_env(name, data_dir, federation)
    argv = [
        sys.executable, "-m", "distributed.cli.dask_worker", scheduler,
        "--name", name, "--nworkers", "1", "--nthreads", str(nthreads),
        "--preload", "fedpe.host.preload", "--no-dashboard",
        "--death-timeout", "60",
    ]
    os.execve(sys.executable, argv, env)
