"""A TLS federation link: a real scheduler on tls:// and a real host joined with `fedpe host start --tls-*`.

Only these two processes (not the session stack): the scheduler is started with the command
line `fedpe up --tls` uses, and the host the way a hospital starts one.
"""

import os
import socket
import subprocess
import sys

import pytest

from fedpe.stack.config import StackConfig
from fedpe.stack.launcher import scheduler_argv, scheduler_env
from fedpe.stack.processes import spawn, stop, wait_until
from fedpe.stack.tls import CertFiles, client_security, ensure_federation_tls, issue_host_cert

pytestmark = pytest.mark.integration

HOST = "tls-host"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def connect(address: str, files: CertFiles | None, timeout_s: float = 3.0):
    from distributed import Client

    return Client(address, timeout=f"{timeout_s}s", set_as_default=False, security=client_security(files))


def test_tls_scheduler_admits_its_federations_hosts_and_clients_only(tmp_path):
    from tasks.hosts import FEDERATION_METADATA_KEY, connected_hosts

    home = tmp_path / "fed"
    config = StackConfig(home=home, scheduler_port=free_port(), dashboard_port=free_port(), tls=True)
    ours = ensure_federation_tls(home, config.bind)
    host_files = issue_host_cert(home, HOST, tmp_path / "handed-to-the-host")
    theirs = ensure_federation_tls(tmp_path / "another-federation")
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    logs = tmp_path / "logs"
    children = []
    try:
        scheduler = spawn("dask-scheduler", scheduler_argv(config), env=scheduler_env(config, env), logs=logs)
        children.append(scheduler)
        assert config.scheduler_address.startswith("tls://")
        client = wait_until(lambda: connect(config.scheduler_address, ours.client, 1.0), timeout_s=60,
                            what="the TLS scheduler", child=scheduler)
        try:
            # What `fedpe up` leaves for joining hosts; no Prefect runs here, any URL will do.
            client.set_metadata([FEDERATION_METADATA_KEY], {"prefect_api_url": "http://127.0.0.1:9/api"})
            host = spawn(f"host-{HOST}", [
                sys.executable, "-m", "fedpe.cli", "host", "start", "--name", HOST,
                "--scheduler", config.scheduler_address, "--data-dir", str(data_dir), "--threads", "1",
                *host_files.cli_args(),
            ], env=env, logs=logs, role="host")
            children.append(host)

            wait_until(lambda: HOST in connected_hosts(client), timeout_s=120, what=f"host {HOST}", child=host)

            assert connected_hosts(client)[HOST].startswith("tls://")
            # The scheduler -> host link is TLS too: work placed on the host comes back.
            assert client.submit(sum, [1, 2], workers=[HOST], pure=False).result(timeout=30) == 3
        finally:
            client.close()

        port = config.scheduler_port
        with pytest.raises(OSError):  # plain TCP: refused at the TLS handshake
            connect(f"tcp://127.0.0.1:{port}", None)
        with pytest.raises(OSError, match="TLS|SSL"):  # another federation's CA and certificate
            connect(config.scheduler_address, theirs.client)
        with pytest.raises(OSError, match="SSL"):  # our CA trusted, but a certificate it did not sign
            connect(config.scheduler_address, CertFiles(ours.ca_file, theirs.client.cert, theirs.client.key))

        refused = subprocess.run([
            sys.executable, "-m", "fedpe.cli", "host", "start", "--name", "intruder",
            "--scheduler", config.scheduler_address, "--data-dir", str(data_dir),
            "--tls-ca-file", str(ours.ca_file), "--tls-cert", str(theirs.client.cert),
            "--tls-key", str(theirs.client.key),
        ], capture_output=True, text=True, timeout=60, env=env)
        assert refused.returncode == 1, refused.stderr
        assert "cannot reach the Dask scheduler" in refused.stderr
        assert len(refused.stderr.strip().splitlines()) == 1, refused.stderr
        assert "Traceback" not in refused.stderr
    finally:
        stop(children)  # the host first, then the scheduler
