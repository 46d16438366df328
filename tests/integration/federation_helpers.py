"""Helpers the integration tests share: extra hosts, waiting on progress, reading results."""

from __future__ import annotations

import contextlib
import json
import socket
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from blocks.store import StoreSpec


def host_cert_args(stack, name: str) -> list[str]:
    """`--tls-*` for host `name`: a certificate of its own name from the federation CA."""
    from fedpe.stack.tls import issue_host_cert, tls_files

    return issue_host_cert(stack.config.home, name, tls_files(stack.config.home).host_dir(name), reuse=True).cli_args()


def start_extra_host(stack, name: str, data_dir: Path, *, policy: Path | None = None,
                     options: tuple[str, ...] = ()) -> subprocess.Popen:
    """A host of our own (its own process group) that a test may crash."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "fedpe.cli", "host", "start", "--name", name, "--scheduler",
         stack.config.scheduler_address, "--data-dir", str(data_dir), "--threads", "4",
         *host_cert_args(stack, name), *(["--policy", str(policy)] if policy else []), *options],
        env=dict(os.environ), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )
    from distributed import Client

    from fedpe.stack.launcher import client_security
    from tasks.hosts import connected_hosts

    with Client(stack.config.scheduler_address, timeout="10s", set_as_default=False,
                security=client_security(stack.config)) as client:
        deadline = time.monotonic() + 60
        while name not in connected_hosts(client):
            assert proc.poll() is None, f"host {name} exited with {proc.returncode}"
            assert time.monotonic() < deadline, f"host {name} did not connect"
            time.sleep(0.2)
    return proc


def crash_host(proc: subprocess.Popen) -> None:
    """Kill the host's whole process group at once, as a power cut would."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait(timeout=30)


def stop_host(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            crash_host(proc)


def progress(stack, execution_id: str) -> dict:
    store = StoreSpec(url=stack.config.store)
    try:
        return json.loads(store.read_bytes(execution_id, "_progress.json"))
    except FileNotFoundError:
        return {}


def wait_for_round(stack, execution_id: str, round_: int, timeout_s: float = 120) -> dict:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        state = progress(stack, execution_id)
        if state.get("round", 0) >= round_:
            return state
        time.sleep(0.1)
    raise AssertionError(f"execution {execution_id} did not reach round {round_} in {timeout_s} s")


def wait_for_final_state(flow_run_id, timeout_s: float = 180):
    from prefect import get_client
    from prefect.utilities.asyncutils import run_coro_as_sync

    async def read():
        async with get_client() as client:
            return await client.read_flow_run(flow_run_id)

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        run = run_coro_as_sync(read())
        if run.state and run.state.is_final():
            return run
        time.sleep(0.25)
    raise AssertionError(f"flow run {flow_run_id} not final after {timeout_s} s")


def new_user(stack, prefix: str = "user", *, admin: bool = False) -> tuple[str, str]:
    """(name, api_key) of a new fedpe user, made with the CLI as an operator would."""
    import uuid

    name = f"{prefix}-{uuid.uuid4().hex[:8]}"
    argv = [sys.executable, "-m", "fedpe.cli", "users", "add", name, "--json"] + (["--admin"] if admin else [])
    out = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=True,
                         env={**os.environ, "FEDPE_HOME": str(stack.config.home)})
    return name, json.loads(out.stdout)["api_key"]


def api_client(stack, prefix: str = "user", *, admin: bool = False):
    """An httpx client of the API for a new user; `.user` and `.key` say who it is."""
    import httpx

    name, key = new_user(stack, prefix, admin=admin)
    client = httpx.Client(base_url=f"{stack.config.api_url}/api/v1", timeout=60,
                          headers={"Authorization": f"Bearer {key}"})
    client.user, client.key = name, key
    return client


def wait_until(predicate, timeout_s: float = 60, what: str = "condition", every_s: float = 0.25):
    """`predicate()`'s first truthy value, polled every `every_s`; AssertionError naming `what` after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every_s)
    raise AssertionError(f"{what}: not within {timeout_s} s")


def free_port() -> int:
    """A port free on loopback now (the OS's pick)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def moto_s3():
    """An S3 endpoint on loopback (moto's server mode) with an empty bucket `fedpe`: its URL, stopped after."""
    import boto3
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    url = f"http://127.0.0.1:{port}"
    boto3.client("s3", endpoint_url=url, aws_access_key_id="test", aws_secret_access_key="test",
                 region_name="us-east-1").create_bucket(Bucket="fedpe")
    try:
        yield url
    finally:
        server.stop()
