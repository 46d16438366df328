"""A hostile host against the real federation: a process holding one host's own certificate
(what `fedpe tls issue-host` hands a hospital) tries to run code in the scheduler, in the
coordinator's processes and in whoever dials it, and to act for another host. Each payload is
a pickle that creates a marker file when loaded; no marker may appear anywhere, each attempt
is logged, and a training on the honest hosts then completes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from federation_helpers import host_cert_args

pytestmark = pytest.mark.integration

SCRIPT = Path(__file__).with_name("hostile_host.py")
NAME = "hospital-h"


@pytest.fixture(scope="module")
def markers(tmp_path_factory):
    folder = tmp_path_factory.mktemp("markers")
    yield folder
    assert sorted(p.name for p in folder.iterdir()) == [], "code ran where a host's bytes were read"


@pytest.fixture(scope="module")
def hostile(stack, markers):
    """run(attack, **options) -> what the hostile process saw; its certificate is hospital-h's own."""
    def argv(attack: str, name: str = NAME, cert_args: list[str] | None = None, **options) -> list[str]:
        files = dict(zip(("--ca", "--cert", "--key"), (cert_args or host_cert_args(stack, name))[1::2]))
        extra = [part for key, value in options.items() for part in (f"--{key.replace('_', '-')}", str(value))]
        return [sys.executable, str(SCRIPT), attack, "--scheduler", stack.config.scheduler_address,
                *[part for item in files.items() for part in item], "--marker", str(markers / attack),
                "--name", name, *extra]

    def run(attack: str, name: str = NAME, cert_args: list[str] | None = None, **options) -> dict:
        proc = subprocess.run(argv(attack, name, cert_args, **options), capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0, proc.stderr[-3000:]
        return json.loads(proc.stdout.strip().splitlines()[-1])

    run.argv = argv
    return run


def scheduler_log(stack) -> str:
    return (stack.config.home / "logs" / "dask-scheduler.log").read_text(errors="replace")


def test_a_pickle_in_the_handshake_or_a_message_is_refused_before_it_is_read(stack, hostile, markers):
    handshake = hostile("handshake-pickle")
    message = hostile("message-pickle")

    assert handshake["outcome"] == "closed", handshake
    assert message["outcome"] == "closed", message
    assert not list(markers.iterdir())
    assert "a pickle from a peer that may send only plain data" in scheduler_log(stack)


def test_whoever_dials_a_hostile_host_reads_its_handshake_strictly(stack, hostile, markers):
    """Nobody in fedpe dials a host any more (hosts only dial out); were anyone to, the comm is strict."""
    import asyncio

    from distributed.comm import connect

    from fedpe.stack.launcher import client_security

    proc = subprocess.Popen(hostile.argv("listen"), stdout=subprocess.PIPE, text=True)
    try:
        address = json.loads(proc.stdout.readline())["address"]
        args = client_security(stack.config).get_connection_args("client")

        async def dial():
            comm = await connect(address, timeout=5, **args)
            await comm.write({"op": "identity", "reply": True})
            return await comm.read()

        with pytest.raises(OSError):
            asyncio.run(dial())
    finally:
        proc.kill()
        proc.wait(10)
    assert not list(markers.iterdir())


def test_a_hosts_events_reach_clients_only_on_fedpe_topics_and_as_plain_data(stack, dask_client, hostile, markers):
    from distributed.client import _handle_warn

    seen = []
    # The handlers distributed.Client runs by default: `warn` unpickles the event's payload.
    dask_client.subscribe_topic("warn", _handle_warn)
    dask_client.subscribe_topic("fedpe-probe", seen.append)
    try:
        warned = hostile("warn-event", port=41001)
        pickled = hostile("fedpe-topic-pickle", port=41002)
        deadline = time.monotonic() + 10
        while not seen and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        dask_client.unsubscribe_topic("warn")
        dask_client.unsubscribe_topic("fedpe-probe")

    assert warned["outcome"] == "sent", warned
    assert pickled["outcome"] == "closed", pickled
    assert [event[1].get("probe") for event in seen] == [1], "the relay works for fedpe's own topics (control)"
    assert not list(markers.iterdir())
    assert "dropped an event on topic 'warn'" in scheduler_log(stack)


def test_a_host_is_who_its_certificate_says_and_acts_for_nobody_else(stack, dask_client, hostile):
    from tasks.hosts import connected_hosts

    victim = connected_hosts(dask_client)["hospital-b"]
    registered = hostile("register-as", victim="hospital-b", victim_address=victim)
    acting = hostile("act-for", victim_address=victim, port=41003)
    twice = hostile("register-twice", port=41004)

    assert {k: registered[k] for k in ("name", "address", "alias", "unregister")} == dict.fromkeys(
        ("name", "address", "alias", "unregister"), "closed"), registered
    assert acting["outcome"] == "closed", acting
    assert twice["outcome"] == "closed", twice
    workers = dask_client.scheduler_info()["workers"]
    assert connected_hosts(dask_client)["hospital-b"] == victim
    assert workers[victim]["status"] == "running"
    log = scheduler_log(stack)
    for line in ("register-worker as 'hospital-b'", f"register-worker at {victim}", "register-worker at 'hospital-b'",
                 "unregister for 'hospital-b'", "worker-status-change in the name of worker",
                 "register-worker while its worker is connected"):
        assert line in log, line


def test_oversize_lengths_are_refused_before_anything_is_allocated(stack, dask_client, hostile):
    import psutil

    scheduler = next(p for p in psutil.process_iter(["cmdline"]) if "distributed.cli.dask_scheduler" in
                     " ".join(p.info["cmdline"] or []) and str(stack.config.scheduler_port) in " ".join(p.info["cmdline"]))
    before = scheduler.memory_info().rss
    result = hostile("oversize")

    assert result["length"] == "closed" and result["frames"] == "closed", result
    assert scheduler.memory_info().rss - before < 64 * 1024**2
    assert dask_client.scheduler_info()["workers"], "the scheduler still serves"
    assert "over the limit" in scheduler_log(stack) or "(the limit is" in scheduler_log(stack)


def test_a_revoked_certificate_fails_the_tls_handshake_itself(stack, hostile):
    name = "hospital-v"
    cert = host_cert_args(stack, name)  # asked again after the revocation, it would be a new certificate
    before = hostile("tls-only", name=name, cert_args=cert)
    revoke = subprocess.run([sys.executable, "-m", "fedpe.cli", "tls", "revoke", name, "--json",
                             "--home", str(stack.config.home)], capture_output=True, text=True, timeout=60,
                            env={**os.environ})
    assert revoke.returncode == 0, revoke.stderr
    after = hostile("tls-only", name=name, cert_args=cert)

    assert before["outcome"] == "connected", before
    assert after["outcome"] == "refused" and "revoked" in after["error"], after


def test_through_the_relay_a_client_answers_its_executions_server_only(stack, hostile):
    from federation_helpers import api_client, wait_for_final_state, wait_for_round

    with api_client(stack, "relay", admin=True) as api:
        submitted = api.post("/tools/job/flcore", params={"server_node": "hospital-a",
                                                          "client_nodes": ["hospital-b", "hospital-c"]},
                             json={"rounds": 500, "dataset": "digits", "model": "mlp", "local_epochs": 1})
        assert submitted.status_code == 200, submitted.text
        execution = submitted.json()["execution_id"]
        wait_for_round(stack, execution, 1)
        assert api.post(f"/executions/{execution}/control", json={"action": "pause"}).status_code == 200
        # the roles are alive and waiting: another client of the same execution, and a host outside it, each as itself
        peer = hostile("relay-call", name="hospital-c", victim="hospital-b", execution=execution, method="fit")
        outsider = hostile("relay-call", victim="hospital-b", execution=execution, method="evaluate")
        polled = hostile("relay-call", victim="hospital-b", execution=execution, method="poll")
        assert api.post(f"/executions/{execution}/control", json={"action": "stop"}).status_code == 200
    final = wait_for_final_state(execution, timeout_s=300)

    for answer in (peer, outsider, polled):
        assert answer["outcome"] == "answered" and "may not" in answer["answer"], answer
    assert "host hospital-c may not call fit" in peer["answer"]
    assert final.state.is_completed(), final.state.message  # the honest server's calls went on to the end


def test_the_honest_hosts_then_train_as_before(stack):
    from prefect.deployments import run_deployment

    run = run_deployment("flcore/default", parameters={"server": "hospital-a", "clients": ["hospital-b", "hospital-c"],
                                                        "rounds": 2}, poll_interval=0.25, timeout=300)
    assert run.state.is_completed(), run.state.message
