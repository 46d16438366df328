"""State survives `fedpe down` / `fedpe up`: executions, blocks, results and MLflow runs."""

import json
import os
import socket
import subprocess
import sys

import pytest

pytestmark = pytest.mark.integration


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def fedpe(home, *args, timeout=240):
    return subprocess.run([sys.executable, "-m", "fedpe.cli", *args, "--home", str(home)], capture_output=True,
                          text=True, timeout=timeout, env=dict(os.environ))


def test_executions_and_mlflow_runs_survive_down_and_up(tmp_path):
    # Prepare: a one-host stack of its own, driven through the CLI as a user would
    home = tmp_path / "home"
    ports = [_free_port() for _ in range(5)]
    port_args = ["--prefect-port", str(ports[0]), "--scheduler-port", str(ports[1]), "--dashboard-port",
                 str(ports[2]), "--mlflow-port", str(ports[3]), "--api-port", str(ports[4])]
    up = fedpe(home, "up", "--detach", "--hosts", "1", *port_args)
    assert up.returncode == 0, up.stderr
    env = {line.split("=", 1)[0].removeprefix("export "): line.split("=", 1)[1]
           for line in fedpe(home, "env").stdout.splitlines()}
    script = (
        "import json, sys\n"
        "from prefect.deployments import run_deployment\n"
        "r = run_deployment('flcore/default', parameters={'server': 'hospital-a', 'clients': ['hospital-a'], "
        "'rounds': 2}, poll_interval=0.25, timeout=240)\n"
        "res = r.state.result()\n"
        "print(json.dumps({'id': str(r.id), 'mlflow': res.mlflow_run_id, 'state': r.state.name}))\n"
    )
    first = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300,
                           env={**os.environ, **env, "PREFECT_HOME": str(tmp_path / "client")})
    try:
        assert first.returncode == 0, first.stderr[-2000:]
        before = json.loads(first.stdout.strip().splitlines()[-1])
        assert before["state"] == "Completed"

        # Execute
        assert fedpe(home, "down").returncode == 0
        again = fedpe(home, "up", "--detach", "--hosts", "1", *port_args)
        assert again.returncode == 0, again.stderr

        # Assert: the old run, its persisted result and its MLflow run are all still there
        check = (
            "import json, sys\n"
            "from prefect import get_client\n"
            "from mlflow.tracking import MlflowClient\n"
            f"before = json.loads({json.dumps(json.dumps(before))})\n"
            "with get_client(sync_client=True) as c:\n"
            "    run = c.read_flow_run(before['id'])\n"
            "res = run.state.result()\n"
            "m = MlflowClient().get_run(before['mlflow'])\n"
            "print(json.dumps({'state': run.state.name, 'rounds': len(res.history), 'mlflow': m.info.status}))\n"
        )
        after = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, timeout=120,
                               env={**os.environ, **env, "PREFECT_HOME": str(tmp_path / "client")})
        assert after.returncode == 0, after.stderr[-2000:]
        assert json.loads(after.stdout.strip().splitlines()[-1]) == {"state": "Completed", "rounds": 2,
                                                                     "mlflow": "FINISHED"}
    finally:
        fedpe(home, "down")
