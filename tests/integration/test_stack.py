"""The stack's processes and the host command's errors, as a user meets them."""

import json
import os
import socket
import subprocess
import sys

import pytest

pytestmark = pytest.mark.integration


def fedpe(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "fedpe.cli", *args], capture_output=True, text=True, timeout=timeout,
                          env=dict(os.environ))


def test_status_json_gives_urls_scheduler_and_hosts(stack):
    result = fedpe("status", "--json", "--home", str(stack.config.home))

    assert result.returncode == 0, result.stderr
    info = json.loads(result.stdout)
    assert info["running"] is True
    assert info["scheduler"] == stack.config.scheduler_address
    assert info["urls"]["prefect_api"] == stack.config.prefect_api_url
    assert info["urls"]["api"].endswith("/api/v1")
    assert {h for h, v in info["hosts"].items() if v["connected"]} == set(stack.hosts)


def test_env_prints_exports_for_run_deployment_callers(stack):
    result = fedpe("env", "--home", str(stack.config.home))

    assert f"export PREFECT_API_URL={stack.config.prefect_api_url}" in result.stdout
    assert f"export MLFLOW_TRACKING_URI={stack.config.mlflow_uri}" in result.stdout
    assert "export PREFECT_API_AUTH_STRING=" in result.stdout and "export FEDPE_TLS_CERT=" in result.stdout


def test_status_shows_no_credential(stack):
    from fedpe.stack.secrets import load_secrets

    result = fedpe("status", "--json", "--home", str(stack.config.home))

    secrets = load_secrets(stack.config.home)
    assert result.returncode == 0
    assert secrets.prefect_auth_string not in result.stdout and secrets.mlflow_service_password not in result.stdout


def test_host_start_refuses_an_unreachable_scheduler(stack, tmp_path):
    from federation_helpers import host_cert_args

    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]

    result = fedpe("host", "start", "--name", "lonely", "--scheduler", f"fedpe://127.0.0.1:{port}", "--data-dir",
                   str(tmp_path), *host_cert_args(stack, "lonely"))

    assert result.returncode == 1
    assert "cannot reach the Dask scheduler" in result.stderr
    assert "Traceback" not in result.stderr


def test_host_start_refuses_a_name_already_connected(stack, tmp_path):
    from federation_helpers import host_cert_args

    result = fedpe("host", "start", "--name", "hospital-a", "--scheduler", stack.config.scheduler_address,
                   "--data-dir", str(tmp_path), *host_cert_args(stack, "hospital-a"))

    assert result.returncode == 2
    assert "already connected" in result.stderr and "hospital-a" in result.stderr
    assert "Traceback" not in result.stderr


def test_up_refuses_a_taken_port_naming_it(stack, tmp_path):
    # The running stack holds its Prefect port already.
    result = fedpe("up", "--home", str(tmp_path / "other"), "--prefect-port", str(stack.config.prefect_port),
                   "--detach")

    assert result.returncode == 1
    assert str(stack.config.prefect_port) in result.stderr and "Prefect server" in result.stderr
    assert "Traceback" not in result.stderr
