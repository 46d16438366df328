"""Hosts on other machines, the same code path: a federation of its own whose three demo hosts
live in network namespaces of their own (`fedpe up --netns`), reaching the scheduler only over
a veth pair and a bridge, and joining with `fedpe host start --scheduler fedpe://...` and their
certificates. A cut link is a dropout; the host joins again when its link comes back."""

import contextlib
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from federation_helpers import free_port
from fedpe.stack import netns

pytestmark = [pytest.mark.integration,
              pytest.mark.skipif(netns.unavailable() is not None,
                                 reason=f"network namespaces unavailable here: {netns.unavailable()}")]

HOSTS = ["hospital-a", "hospital-b", "hospital-c"]


@pytest.fixture(scope="module")
def federation():
    from fedpe.stack import launcher
    from fedpe.stack.config import StackConfig

    home = Path(tempfile.mkdtemp(prefix="fedpe-netns-"))
    config = StackConfig(home=home, prefect_port=free_port(), scheduler_port=free_port(), dashboard_port=free_port(),
                         mlflow_port=free_port(), api_port=free_port(), hosts=3, netns=True, serve_api=False)
    stack = launcher.up(config)
    try:
        yield stack
    finally:
        launcher.down(home)


@contextlib.contextmanager
def its_prefect(stack):
    """This process's Prefect settings pointed at the namespaced federation's own server."""
    from prefect.settings import PREFECT_API_AUTH_STRING, PREFECT_API_URL, temporary_settings

    from fedpe.stack.secrets import load_secrets

    secrets = load_secrets(stack.config.home)
    with temporary_settings(updates={PREFECT_API_URL: stack.config.prefect_api_url,
                                     PREFECT_API_AUTH_STRING: secrets.prefect_auth_string}):
        yield


def run(stack, name: str, parameters: dict, timeout: float = 300):
    """(the flow run, its result or None): both read from this federation's Prefect."""
    from prefect.deployments import run_deployment

    with its_prefect(stack):
        flow_run = run_deployment(f"{name}/default", parameters=parameters, poll_interval=0.25, timeout=timeout)
        return flow_run, flow_run.state.result() if flow_run.state.is_completed() else None


def connected(stack) -> dict[str, str]:
    from distributed import Client

    from fedpe.stack.launcher import client_security
    from tasks.hosts import connected_hosts

    with Client(stack.config.scheduler_address, timeout="10s", set_as_default=False,
                security=client_security(stack.config)) as client:
        return connected_hosts(client)


def links(stack) -> dict[str, netns.HostLink]:
    return netns.Network.from_dict(stack.network).links


def progress(stack, execution_id: str) -> dict:
    path = stack.config.home / "store" / execution_id / "_progress.json"
    return json.loads(path.read_text()) if path.exists() else {}


def test_hosts_join_from_their_own_namespaces_and_see_nothing_but_the_federation(federation):
    addresses = connected(federation)
    subnet = federation.config.scheduler_host.rsplit(".", 1)[0]
    probe = ("import socket, sys\n"
             "s = socket.socket(); s.settimeout(3)\n"
             "try:\n    s.connect((sys.argv[1], int(sys.argv[2]))); print('open')\n"
             "except OSError as e:\n    print('closed', type(e).__name__)\n")

    def reach(link, host: str, port: int) -> str:
        return subprocess.run([*netns.exec_in(link), sys.executable, "-c", probe, host, str(port)],
                              capture_output=True, text=True, timeout=30).stdout.strip()

    assert sorted(addresses) == HOSTS
    for host, link in links(federation).items():
        assert addresses[host].startswith(f"fedpe://{link.address}:") and link.address.startswith(subnet)
    link = links(federation)["hospital-b"]
    assert reach(link, federation.config.scheduler_host, federation.config.scheduler_port) == "open"
    for port in (federation.config.prefect_port, federation.config.mlflow_port):  # the coordinator's loopback
        assert reach(link, "127.0.0.1", port).startswith("closed")
        assert reach(link, federation.config.scheduler_host, port).startswith("closed")
    # Hosts only dial out: nothing in a host's namespace listens beyond its loopback, and another
    # host cannot reach the address its worker is known by
    for host, link in links(federation).items():
        listening = subprocess.run([*netns.exec_in(link), "ss", "-ltnH"], capture_output=True, text=True,
                                   timeout=30).stdout.split("\n")
        local = [line.split()[3] for line in listening if line.strip()]
        assert local and all(a.startswith(("127.", "[::1]", "::1")) for a in local), (host, local)
        known = addresses[host].removeprefix("fedpe://").rsplit(":", 1)
        assert reach(links(federation)["hospital-a" if host != "hospital-a" else "hospital-b"], known[0],
                     int(known[1])).startswith("closed"), host


def test_health_check_and_flcore_run_on_namespaced_hosts(federation):
    health, checked = run(federation, "health-check", {})
    training, result = run(federation, "flcore", {"server": "hospital-a", "clients": HOSTS, "rounds": 5,
                                                  "local_epochs": 3, "learning_rate": 0.5})

    assert health.state.is_completed(), health.state.message
    reports = checked.reports
    assert sorted(reports) == HOSTS and all(r["healthy"] for r in reports.values()), reports
    assert training.state.is_completed(), training.state.message
    assert [h["clients"] for h in result.history] == [HOSTS] * 5
    assert result.final_metrics["accuracy"] >= 0.9


def test_a_cut_link_is_a_dropout_and_the_host_rejoins_when_it_is_back(federation):
    from prefect.deployments import run_deployment

    cut = links(federation)["hospital-c"]
    with its_prefect(federation):
        flow_run = run_deployment("flcore/default", timeout=0, parameters={
            # Enough rounds that the link is cut while it trains (a round takes tens of ms); every
            # round after the cut waits out its timeout for hospital-c, so the timeout is short.
            "server": "hospital-a", "clients": HOSTS, "rounds": 20, "min_clients": 2, "round_timeout_s": 3,
            "dataset": "digits", "model": "mlp", "local_epochs": 2, "batch_size": 8, "learning_rate": 0.05})
    deadline = time.monotonic() + 180
    while progress(federation, str(flow_run.id)).get("round", 0) < 2:
        assert time.monotonic() < deadline, "the training did not reach round 2"
        time.sleep(0.1)
    netns.set_link(cut, up=False)
    try:
        from federation_helpers import wait_for_final_state

        with its_prefect(federation):
            final = wait_for_final_state(flow_run.id, timeout_s=300)
            result = final.state.result() if final.state.is_completed() else None
    finally:
        netns.set_link(cut, up=True)

    assert final.state.is_completed(), final.state.message
    assert "hospital-c" in result.history[0]["clients"]
    assert result.history[-1]["clients"] == ["hospital-a", "hospital-b"]
    assert "hospital-c" in result.history[-1]["dropped"]
    deadline = time.monotonic() + 180
    while "hospital-c" not in connected(federation):
        assert time.monotonic() < deadline, "hospital-c did not join again after its link came back"
        time.sleep(1)
    again, checked = run(federation, "health-check", {"hosts": HOSTS})
    assert again.state.is_completed(), again.state.message
    assert checked.reports["hospital-c"]["healthy"]


def test_fed_stats_a_pipeline_and_the_controls_work_over_namespaced_hosts(federation):
    from distributed import Client, Event
    from prefect import get_client
    from prefect.deployments import run_deployment
    from prefect.states import Cancelling
    from prefect.utilities.asyncutils import run_coro_as_sync

    from federation_helpers import wait_for_final_state
    from fedpe.stack.launcher import client_security
    from tasks.conventions import control_event_name

    stats, summary = run(federation, "fed-stats", {"hosts": HOSTS, "dataset": "breast-cancer",
                                                   "columns": ["mean_radius"]})
    assert stats.state.is_completed(), stats.state.message
    assert summary.statistics["columns"]["mean_radius"]["count"] > 0
    pipeline, parts = run(federation, "pipeline", {"steps": [
        {"tool": "health-check", "parameters": {"hosts": ["hospital-a", "hospital-b"]}},
        {"tool": "flcore", "parameters": {"server": "hospital-a", "clients": ["hospital-a", "hospital-b"], "rounds": 2}},
    ]})
    assert pipeline.state.is_completed(), pipeline.state.message
    assert [p.tool for p in parts.parts] == ["health-check", "flcore"]

    slow = {"server": "hospital-a", "clients": HOSTS, "rounds": 500, "dataset": "digits", "model": "mlp",
            "local_epochs": 3, "batch_size": 4, "learning_rate": 0.02, "round_timeout_s": 20}
    with its_prefect(federation), Client(federation.config.scheduler_address, timeout="10s", set_as_default=False,
                                         security=client_security(federation.config)) as client:
        # pause, resume, stop: the controls reach the server role over the hosts' own connections
        paused_run = run_deployment("flcore/default", timeout=0, parameters=slow)
        execution = str(paused_run.id)
        deadline = time.monotonic() + 180
        while progress(federation, execution).get("round", 0) < 2:
            assert time.monotonic() < deadline, "the training did not reach round 2"
            time.sleep(0.1)
        Event(control_event_name(execution, "pause"), client=client).set()
        while not progress(federation, execution).get("paused"):
            assert time.monotonic() < deadline, "the training did not pause"
            time.sleep(0.1)
        held = progress(federation, execution)["round"]
        time.sleep(4)
        assert progress(federation, execution)["round"] <= held + 1  # a round under way may end; no more start
        Event(control_event_name(execution, "pause"), client=client).clear()
        while progress(federation, execution).get("round", 0) < held + 2:
            assert time.monotonic() < deadline, "the training did not resume"
            time.sleep(0.1)
        Event(control_event_name(execution, "stop"), client=client).set()
        stopped = wait_for_final_state(paused_run.id, timeout_s=180)
        trained = len(stopped.state.result().history) if stopped.state.is_completed() else None

        # cancel, as the Prefect UI does
        cancelled_run = run_deployment("flcore/default", timeout=0, parameters=slow)
        while progress(federation, str(cancelled_run.id)).get("round", 0) < 1:
            assert time.monotonic() < deadline + 120, "the second training did not start"
            time.sleep(0.1)

        async def cancel():
            async with get_client() as prefect:
                await prefect.set_flow_run_state(cancelled_run.id, Cancelling(), force=True)

        run_coro_as_sync(cancel())
        cancelled = wait_for_final_state(cancelled_run.id, timeout_s=180)

    assert stopped.state.is_completed(), stopped.state.message
    assert held + 2 <= trained < 500
    assert cancelled.state.is_cancelled(), cancelled.state
    assert progress(federation, str(cancelled_run.id))["status"] == "cancelled"
