"""A federation closed to side doors, on the real stack: every service wants its credential, a
host's certificate serves its roles and nothing more, secrets stay where they belong, a revoked
host stays out, and each host's own policy and audit log decide and record what runs on it."""

import asyncio
import json
import os
import pickle
import ssl
import stat
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from federation_helpers import host_cert_args, start_extra_host, stop_host
from fedpe.stack.secrets import MLFLOW_ADMIN, MLFLOW_SERVICE, load_secrets
from fedpe.stack.tls import CertFiles, client_security, ensure_federation_tls, tls_files

pytestmark = pytest.mark.integration


class Marker:
    """A pickle that creates a file when it is loaded: proof of code run by whoever unpickles it."""

    def __init__(self, path: Path):
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


def host_files(stack, name: str) -> CertFiles:
    folder = tls_files(stack.config.home).host_dir(name)
    return CertFiles(folder / "ca.pem", folder / f"{name}.pem", folder / f"{name}-key.pem")


def send(address: str, files: CertFiles, msg: dict, timeout_s: float = 10.0):
    """One message over a raw comm presenting `files`; the answer, or the exception reading it raised."""
    from distributed.comm import connect

    async def go():
        comm = await connect(address, timeout=timeout_s, **client_security(files).get_connection_args("client"))
        try:
            await comm.write(msg)
            return await asyncio.wait_for(comm.read(), timeout_s)
        except Exception as exc:  # a refused message closes the comm
            return exc
        finally:
            comm.abort()

    return asyncio.run(go())


async def _dial(address: str, **connection_args):
    from distributed.comm import connect

    comm = await connect(address, timeout=3, **connection_args)
    try:
        await comm.write({"op": "identity", "reply": True})
        return await asyncio.wait_for(comm.read(), 3)
    finally:
        comm.abort()


def to_pickle(obj):
    from distributed.protocol.serialize import ToPickle

    return ToPickle(obj)


def test_no_service_answers_without_its_credential(stack, tmp_path):
    secrets = load_secrets(stack.config.home)
    api = stack.config.prefect_api_url
    auth = tuple(secrets.prefect_auth_string.split(":", 1))

    # Prefect: every call but /health needs the auth string; CORS only for the UI's own origin
    assert httpx.post(f"{api}/flow_runs/filter", json={}).status_code == 401
    assert httpx.post(f"{api}/flow_runs/filter", json={}, auth=("fedpe", "wrong")).status_code == 401
    assert httpx.post(f"{api}/flow_runs/filter", json={}, auth=auth).status_code == 200
    assert httpx.get(f"{api}/health").status_code == 200
    preflight = {"Access-Control-Request-Method": "POST"}
    evil = httpx.options(f"{api}/flow_runs/filter", headers={"Origin": "http://evil.example", **preflight})
    own_origin = f"http://{stack.config.bind}:{stack.config.prefect_port}"
    own = httpx.options(f"{api}/flow_runs/filter", headers={"Origin": own_origin, **preflight})
    assert evil.headers.get("access-control-allow-origin") in (None, "")
    assert own.headers.get("access-control-allow-origin") == own_origin

    # MLflow: basic auth, no permission by default; fedpe's service account is not its admin
    search = f"{stack.config.mlflow_uri}/api/2.0/mlflow/experiments/search"
    assert httpx.post(search, json={"max_results": 5}).status_code == 401
    assert httpx.post(search, json={"max_results": 5}, auth=(MLFLOW_SERVICE, "wrong")).status_code == 401
    assert httpx.post(search, json={"max_results": 5}, auth=(MLFLOW_SERVICE, secrets.mlflow_service_password)
                      ).status_code == 200
    service = httpx.get(f"{stack.config.mlflow_uri}/api/2.0/mlflow/users/get", params={"username": MLFLOW_SERVICE},
                        auth=(MLFLOW_ADMIN, secrets.mlflow_admin_password)).json()["user"]
    assert service["is_admin"] is False

    # Dask: no plain TCP, no client without a certificate of this federation
    from distributed import Client

    port = stack.config.scheduler_port
    with pytest.raises(OSError):
        Client(f"tcp://127.0.0.1:{port}", timeout="3s", set_as_default=False)
    ours = tls_files(stack.config.home)
    anonymous = ssl.create_default_context(cafile=str(ours.ca_file))  # trusts our CA, presents no certificate
    anonymous.check_hostname = False
    with pytest.raises(OSError):
        asyncio.run(_dial(stack.config.scheduler_address, ssl_context=anonymous, require_encryption=True))
    theirs = ensure_federation_tls(tmp_path / "another-federation")
    with pytest.raises(OSError):
        Client(stack.config.scheduler_address, timeout="3s", set_as_default=False,
               security=client_security(theirs.coordinator))


def test_a_hosts_certificate_serves_its_roles_and_nothing_more(stack, dask_client, tmp_path):
    from distributed import Client

    from tasks.hosts import FEDERATION_METADATA_KEY, HOSTS_METADATA_KEY, connected_hosts

    a = host_files(stack, "hospital-a")
    address_b = connected_hosts(dask_client)["hospital-b"]
    marker = tmp_path / "ran"
    pickle.loads(pickle.dumps(Marker(marker)))  # the payload is live: loading it runs code
    assert marker.exists()
    marker.unlink()

    # Not a client: a host cannot submit work, run functions or read results
    with pytest.raises(OSError):
        Client(stack.config.scheduler_address, timeout="5s", set_as_default=False, security=client_security(a))
    # Nothing but its own housekeeping at the scheduler
    refused = send(stack.config.scheduler_address, a, {"op": "run_function", "function": b"x", "reply": True})
    assert isinstance(refused, OSError)
    spoofed = send(stack.config.scheduler_address, a, {"op": "set_metadata", "keys": [HOSTS_METADATA_KEY, "hospital-b"],
                                                       "value": {"name": "hospital-b"}, "reply": True})
    assert isinstance(spoofed, OSError)
    assert dask_client.get_metadata([HOSTS_METADATA_KEY, "hospital-b"])["address"] == address_b
    # A pickle from a host is never loaded: not by the scheduler, not by another host
    pickled = send(stack.config.scheduler_address, a, {"op": "get_metadata", "keys": [FEDERATION_METADATA_KEY],
                                                       "default": to_pickle(Marker(marker)), "reply": True})
    assert isinstance(pickled, OSError) and not marker.exists()
    to_b = send(address_b, a, {"op": "fedpe-role", "execution": "x", "role": "flcore-client", "method": "describe",
                               "payload": to_pickle(Marker(marker)), "reply": True})
    assert isinstance(to_b, OSError) and not marker.exists()
    for op in ("run", "plugin-add", "actor_execute", "get_data"):  # what Dask lets any peer do
        assert isinstance(send(address_b, a, {"op": op, "reply": True}), OSError), op
    # Role calls go through the relay only; one to a role it does not serve is refused in plain words
    assert isinstance(send(address_b, a, {"op": "fedpe-role", "execution": "no-such", "role": "flcore-client",
                                          "method": "fit", "payload": b"\xc0", "reply": True}), OSError)
    answer = send(stack.config.scheduler_address, a, {"op": "fedpe-relay-call", "to": "hospital-b",
                                                      "execution": "no-such", "role": "flcore-client", "method": "fit",
                                                      "payload": b"\xc0", "reply": True, "timeout_s": 5.0})
    assert answer["status"] == "error" and "no role flcore-client" in answer["message"], answer
    # and a host cannot pose as the coordinator to poll a role: the relay names it by its certificate
    polled = send(stack.config.scheduler_address, a, {"op": "fedpe-relay-call", "to": "hospital-b",
                                                      "execution": "no-such", "role": "flcore-client", "method": "poll",
                                                      "payload": b"\xc0", "reply": True, "timeout_s": 5.0,
                                                      "caller_kind": "coordinator"})
    assert isinstance(polled, OSError), polled  # a field a relay call does not have closes the comm
    # The coordinator's certificate is trusted with Dask's own protocol (the positive control)
    coordinator = tls_files(stack.config.home).coordinator
    send(stack.config.scheduler_address, coordinator, {"op": "get_metadata", "keys": [FEDERATION_METADATA_KEY],
                                                      "default": to_pickle(Marker(marker)), "reply": True})
    assert marker.exists(), "the scheduler loads the coordinator's pickles: the strict read is what stops a host's"
    # but even it may only make role calls to a host: no code runs there outside a task
    assert isinstance(send(address_b, coordinator, {"op": "run", "function": b"x", "reply": True}), OSError)


def test_a_host_cannot_register_under_another_hosts_name(stack, dask_client, tmp_path):
    from fedpe.host.start import worker_argv, worker_env
    from tasks.hosts import connected_hosts

    argv = worker_argv("hospital-z", stack.config.scheduler_address, host_files(stack, "hospital-a"), 1)
    argv[argv.index("--death-timeout") + 1] = "5"
    proc = subprocess.run(argv, env=worker_env("hospital-z", tmp_path), capture_output=True, text=True, timeout=120)

    assert proc.returncode != 0
    assert "hospital-z" not in connected_hosts(dask_client)


def test_secrets_stay_where_they_belong(stack):
    import psutil

    home = stack.config.home
    secrets = load_secrets(home)
    values = [secrets.prefect_auth_string, secrets.mlflow_admin_password, secrets.mlflow_service_password,
              secrets.mlflow_flask_secret]

    def mode(path: Path) -> int:
        return stat.S_IMODE(path.stat().st_mode)

    assert mode(home) == 0o700 and mode(home / "secrets") == 0o700
    for path in [*(home / "secrets").iterdir(), *tls_files(home).dir.rglob("*-key.pem")]:
        assert mode(path) == 0o600, path
    stack_json = (home / "stack.json").read_text()
    assert not any(v in stack_json for v in values)

    def environment(pid: int) -> str:
        return Path(f"/proc/{pid}/environ").read_bytes().decode(errors="replace")

    by_name = {c.name: c.pid for c in stack.children}
    for child in stack.children:
        processes = [psutil.Process(child.pid), *psutil.Process(child.pid).children(recursive=True)]
        held = {v for v in values for p in processes if v in environment(p.pid)}
        if child.role == "host" or child.name == "dask-scheduler":
            assert not held, f"{child.name} holds a service credential"
        elif child.name == "prefect-server":
            assert held == {secrets.prefect_auth_string}
        elif child.name == "mlflow":
            assert secrets.prefect_auth_string not in held
    assert by_name


def test_what_reaches_a_host_holds_no_secret(stack, tmp_path):
    from fedpe.host.start import worker_argv, worker_env
    from prefect.deployments import run_deployment

    name = "hospital-p"
    data = tmp_path / "data"
    import shutil

    shutil.copytree(stack.data_dirs["hospital-c"], data)
    payloads = tmp_path / "payloads.bin"
    files = CertFiles(*(Path(p) for p in host_cert_args(stack, name)[1::2]))
    argv = worker_argv(name, stack.config.scheduler_address, files, 2) + ["--preload", "payload_recorder"]
    env = {**worker_env(name, data), "FEDPE_TEST_PAYLOADS": str(payloads),
           "PYTHONPATH": os.pathsep.join([str(Path(__file__).parent), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    try:
        from distributed import Client

        from tasks.hosts import connected_hosts

        with Client(stack.config.scheduler_address, timeout="10s", set_as_default=False,
                    security=client_security(tls_files(stack.config.home).coordinator)) as client:
            deadline = time.monotonic() + 90
            while name not in connected_hosts(client):
                assert proc.poll() is None and time.monotonic() < deadline, "the recording host did not join"
                time.sleep(0.2)
        health = run_deployment("health-check/default", parameters={"hosts": [name]}, poll_interval=0.25,
                                timeout=180)
        training = run_deployment("flcore/default", parameters={"server": name, "clients": [name, "hospital-a"],
                                                                "rounds": 2}, poll_interval=0.25, timeout=300)
    finally:
        proc.terminate()
        proc.wait(30)

    assert health.state.is_completed(), health.state.message
    assert training.state.is_completed(), training.state.message
    recorded = payloads.read_bytes()
    secrets = load_secrets(stack.config.home)
    assert str(health.id).encode() in recorded and str(training.id).encode() in recorded  # the payloads are there
    for secret in (secrets.prefect_auth_string, secrets.mlflow_admin_password, secrets.mlflow_service_password,
                   secrets.mlflow_flask_secret):
        assert secret.encode() not in recorded
    assert b"PREFECT_API" not in recorded and b"MLFLOW_TRACKING" not in recorded


def test_a_revoked_host_is_dropped_and_cannot_come_back(stack, dask_client, tmp_path):
    import shutil

    from fedpe.errors import NoConnection
    from fedpe.host.start import preflight
    from tasks.hosts import connected_hosts

    data = tmp_path / "data"
    shutil.copytree(stack.data_dirs["hospital-c"], data)
    proc = start_extra_host(stack, "hospital-r", data)
    try:
        revoke = subprocess.run([sys.executable, "-m", "fedpe.cli", "tls", "revoke", "hospital-r", "--json",
                                 "--home", str(stack.config.home)], capture_output=True, text=True, timeout=60)
        deadline = time.monotonic() + 30
        while "hospital-r" in connected_hosts(dask_client) and time.monotonic() < deadline:
            time.sleep(0.2)
        gone = "hospital-r" not in connected_hosts(dask_client)
        with pytest.raises(NoConnection):
            preflight("hospital-r", stack.config.scheduler_address, data, tls=host_files(stack, "hospital-r"),
                      timeout_s=3)
    finally:
        stop_host(proc)

    assert revoke.returncode == 0, revoke.stderr
    assert json.loads(revoke.stdout)["revoked"]
    assert gone, "the revoked host is still connected"
    assert "hospital-r" not in connected_hosts(dask_client)


@pytest.fixture()
def policy_host(stack, tmp_path):
    """hospital-q: runs health-check and fed-stats only, for everyone, with a fed-stats floor of 20."""
    import shutil

    data = tmp_path / "data"
    shutil.copytree(stack.data_dirs["hospital-c"], data, ignore=shutil.ignore_patterns(".fedpe"))  # its own audit
    policy = tmp_path / "policy.yaml"
    policy.write_text("tools: [health-check, fed-stats]\nfed_stats:\n  min_count: 20\n")
    proc = start_extra_host(stack, "hospital-q", data, policy=policy)
    yield data
    stop_host(proc)


def test_a_hosts_policy_decides_on_the_host_and_its_audit_log_records_it(stack, dask_client, policy_host):
    from prefect.deployments import run_deployment

    from federation_helpers import api_client
    from tasks.coordinator.remote import RemoteRoles, RoleFailed
    from tasks.host.specs import RoleSpec
    from blocks.store import StoreSpec

    # The API refuses early, from the policy the host advertises
    with api_client(stack, "policy") as api:
        refused = api.post("/tools/job/flcore", params={"server_node": "hospital-a",
                                                        "client_nodes": ["hospital-b", "hospital-q"]}, json={})
        described = api.get("/hosts/hospital-q").json()
    assert refused.status_code == 403, refused.text
    assert refused.json()["error"]["code"] == "POLICY_REFUSED"
    assert "hospital-q" in refused.json()["error"]["message"] and "tools" in refused.json()["error"]["message"]
    assert described["policy"]["tools"] == ["health-check", "fed-stats"]

    # The host decides itself, whatever reaches it: a role placed on it directly is refused there
    roles = RemoteRoles(dask_client, StoreSpec(url=stack.config.store))
    run = roles.start(RoleSpec(execution_id="direct-" + str(time.time_ns()), flow_run_id="none", task="flcore-client",
                               tool="flcore", host="hospital-q", owner="mallory", dataset="breast-cancer",
                               server="hospital-a", params={"training": {"dataset": "breast-cancer"}}))
    with pytest.raises(RoleFailed, match="host hospital-q refuses flcore-client of mallory.*tools"):
        roles.follow(run, lambda event: None)
    roles.close()

    # Its floor wins over the requester's min_count
    stats = run_deployment("fed-stats/default", parameters={"hosts": ["hospital-b", "hospital-q"],
                                                            "dataset": "breast-cancer", "columns": ["mean_radius"],
                                                            "min_count": 1}, poll_interval=0.25, timeout=300)
    assert stats.state.is_completed(), stats.state.message
    assert stats.state.result().min_count_by_host == {"hospital-b": 5, "hospital-q": 20}

    # Every role run is in the host's own audit log, chained; a changed line breaks the chain
    audit = subprocess.run([sys.executable, "-m", "fedpe.cli", "host", "audit", "--data-dir", str(policy_host),
                            "--json"], capture_output=True, text=True, timeout=60)
    assert audit.returncode == 0, audit.stderr
    entries = [json.loads(line) for line in audit.stdout.splitlines()]
    decisions = [e for e in entries if e["event"] == "decision"]
    assert [(d["task"], d["allowed"]) for d in decisions] == [("flcore-client", False), ("fed-stats", True)]
    assert decisions[1]["adjustments"] == {"min_count": 20, "extremes_k": 20}
    stats_run = [e for e in entries if e.get("execution_id") == str(stats.id)]
    assert [e["event"] for e in stats_run][:2] == ["decision", "read"]
    released = [e for e in stats_run if e["event"] == "release"]
    assert [e["file"] for e in released] == ["local_stats.json"] and len(released[0]["sha256"]) == 64
    assert stats_run[-1]["event"] == "end"
    # The log's head left the host with the role's last answer; the coordinator keeps it
    head = json.loads(StoreSpec(url=stack.config.store).read_bytes(str(stats.id), "_audit",
                                                                  "hospital-q.fed-stats.json"))
    assert head["seq"] == stats_run[-1]["seq"] and head["hash"] == stats_run[-1]["hash"]
    path = policy_host / ".fedpe" / "audit.jsonl"
    whole = path.read_text()
    path.write_text("".join(whole.splitlines(keepends=True)[:-2]))  # the last lines removed: the chain still holds
    cut = subprocess.run([sys.executable, "-m", "fedpe.cli", "host", "audit", "--data-dir", str(policy_host),
                          "--verify"], capture_output=True, text=True, timeout=60)
    anchored = subprocess.run([sys.executable, "-m", "fedpe.cli", "host", "audit", "--data-dir", str(policy_host),
                               "--verify", "--expect", head["expect"]], capture_output=True, text=True, timeout=60)
    assert cut.returncode == 0  # a cut alone passes the chain: this is why the head is kept off the host
    assert anchored.returncode == 1 and "cut short" in anchored.stderr, anchored.stderr
    path.write_text(whole)
    lines = path.read_text().splitlines()
    tampered = json.loads(lines[1])
    tampered["owner"] = "someone-else"
    lines[1] = json.dumps(tampered, sort_keys=True)
    path.write_text("\n".join(lines) + "\n")
    broken = subprocess.run([sys.executable, "-m", "fedpe.cli", "host", "audit", "--data-dir", str(policy_host),
                             "--verify"], capture_output=True, text=True, timeout=60)
    assert broken.returncode == 1
    assert "line 2" in broken.stderr and "tampered" in broken.stderr


@pytest.fixture()
def private_host(stack, tmp_path):
    """hospital-p: trains only with DP it adds and accounts itself, up to epsilon 10, for hospital-a only."""
    import shutil

    data = tmp_path / "data"
    shutil.copytree(stack.data_dirs["hospital-b"], data, ignore=shutil.ignore_patterns(".fedpe"))
    policy = tmp_path / "policy.yaml"
    policy.write_text("flcore: {require_dp: true, max_epsilon: 10.0}\nservers: [hospital-a]\n")
    proc = start_extra_host(stack, "hospital-p", data, policy=policy)
    yield data
    stop_host(proc)


def audit_of(data_dir: Path, execution_id: str) -> list[dict]:
    audit = subprocess.run([sys.executable, "-m", "fedpe.cli", "host", "audit", "--data-dir", str(data_dir), "--json"],
                           capture_output=True, text=True, timeout=60)
    assert audit.returncode == 0, audit.stderr
    return [e for e in map(json.loads, audit.stdout.splitlines()) if e.get("execution_id") == execution_id]


def test_a_private_host_noises_accounts_and_limits_what_its_server_gets(stack, dask_client, private_host):
    from prefect.deployments import run_deployment

    from blocks.store import StoreSpec
    from tasks.models.registry import build_model
    from tasks.prep import combine_profiles
    from tasks.privacy import PrivacyAccountant
    from tasks.coordinator.remote import RemoteRoles
    from tasks.host.specs import RoleSpec
    from tasks.training import combine_feature_sums
    from tasks.wire.calls import CallError, Peer

    accountant = PrivacyAccountant(1.0, 1.0, 1e-5)  # the host's view: every round it answers counts

    # An honest DP training: the host noises each update itself and its audit carries its epsilon
    trained = run_deployment("flcore/default", parameters={
        "server": "hospital-a", "clients": ["hospital-b", "hospital-p"], "dataset": "breast-cancer", "rounds": 3,
        "dp": {"noise_multiplier": 1.0, "clipping_norm": 1.0}}, poll_interval=0.25, timeout=300)
    assert trained.state.is_completed(), trained.state.message
    spent = [e for e in audit_of(private_host, str(trained.id)) if e["event"] == "privacy"]
    assert [e["round"] for e in spent] == [1, 2, 3]
    assert [e["epsilon"] for e in spent] == [round(accountant.epsilon(r), 6) for r in (1, 2, 3)]
    assert all(e["noise_multiplier"] == 1.0 and e["clipping_norm"] <= 1.0 for e in spent)

    # A 5-round plan would pass its max_epsilon of 10 (12.3 at q=1): refused on the host before any data is read
    over = run_deployment("flcore/default", parameters={
        "server": "hospital-a", "clients": ["hospital-b", "hospital-p"], "dataset": "breast-cancer", "rounds": 5,
        "dp": {"noise_multiplier": 1.0, "clipping_norm": 1.0}}, poll_interval=0.25, timeout=300)
    assert not over.state.is_completed() and "max_epsilon" in over.state.message, over.state.message

    # A server host that deviates, played here with hospital-a's own certificate over the relay
    execution = "private-" + str(time.time_ns())
    dp = {"noise_multiplier": 1.0, "clipping_norm": 1.0}
    roles = RemoteRoles(dask_client, StoreSpec(url=stack.config.store))
    run = roles.start(RoleSpec(execution_id=execution, flow_run_id="none", task="flcore-client", tool="flcore",
                               host="hospital-p", owner="alice", dataset="breast-cancer", server="hospital-a",
                               params={"rounds": 1, "dp": dp, "training": {"dataset": "breast-cancer", "dp": dp}}))
    server_args = client_security(host_files(stack, "hospital-a")).get_connection_args("client")

    async def deviate() -> dict:
        peer = Peer("hospital-p", stack.config.scheduler_address, server_args)
        seen: dict = {}

        async def call(method, value=None):
            for _ in range(100):  # the role may still be reading its data
                try:
                    return await peer.call(execution, "flcore-client", method, value, timeout_s=30)
                except CallError as exc:
                    if "no role" not in str(exc) or method != "describe":
                        raise
                    await asyncio.sleep(0.1)

        async def refused(method, value):
            try:
                await call(method, value)
            except CallError as exc:
                return str(exc)
            return "answered"

        described = await call("describe")
        profile = await call("prepare", {"labels": described["labels"], "min_count": 5})
        plan = combine_profiles([profile], described["features"])
        sums = await call("setup", {"plan": plan.model_dump(), "missing_indicators": False, "impute": True})
        mean, std = combine_feature_sums([sums])
        await call("start", {"mean": mean, "std": std, "n_classes": 2})
        state = build_model("logreg", len(plan.columns(missing_indicators=False)), 2, seed=0).get_weights()
        seen["no_dp"] = await refused("fit", {"state": state, "round": 1, "config": {}})
        seen["fit"] = await call("fit", {"state": state, "round": 1, "config": {"clipping_norm": 50.0}})
        seen["second_fit"] = await refused("fit", {"state": state, "round": 2, "config": {"clipping_norm": 1.0}})
        await call("final", {"state": state})
        seen["second_final"] = await refused("final", {"state": state})
        await call("leave")
        peer.close()
        return seen

    seen = asyncio.run(deviate())
    roles.follow(run, lambda event: None)
    roles.close()

    assert "without its clipping norm" in seen["no_dp"]
    assert seen["fit"]["local_noise"] == {"noise_multiplier": 1.0, "clipping_norm": 1.0}  # 50 asked, its own 1 kept
    assert "fit at most 1 time" in seen["second_fit"]
    assert "final at most 1 time" in seen["second_final"]
    spent = [e for e in audit_of(private_host, execution) if e["event"] == "privacy"]
    assert [(e["round"], e["epsilon"]) for e in spent] == [(1, round(accountant.epsilon(1), 6))]


def test_a_pipeline_runs_for_an_owner_a_hosts_policy_lists_and_is_refused_for_another(stack, tmp_path):
    import shutil

    from federation_helpers import api_client, wait_for_final_state

    alice, other = api_client(stack, "alice"), api_client(stack, "other")
    data = tmp_path / "data"
    shutil.copytree(stack.data_dirs["hospital-b"], data, ignore=shutil.ignore_patterns(".fedpe"))
    policy = tmp_path / "policy.yaml"
    policy.write_text(f"owners: [{alice.user}]\n")
    proc = start_extra_host(stack, "hospital-o", data, policy=policy)
    steps = {"steps": [{"tool": "health-check", "parameters": {"hosts": ["hospital-o"]}},
                       {"tool": "fed-stats", "parameters": {"hosts": ["hospital-a", "hospital-o"],
                                                            "dataset": "breast-cancer", "columns": ["mean_radius"]}}]}
    try:
        with alice, other:
            allowed = alice.post("/tools/job/pipeline", json=steps)
            refused = other.post("/tools/job/pipeline", json=steps)
            assert allowed.status_code == 200, allowed.text
            final = wait_for_final_state(allowed.json()["execution_id"], timeout_s=300)
    finally:
        stop_host(proc)

    assert final.state.is_completed(), final.state.message
    assert refused.status_code == 403, refused.text
    error = refused.json()["error"]
    assert error["code"] == "POLICY_REFUSED" and error["details"]["field"] == "steps.0.parameters.hosts"
    assert "hospital-o" in error["message"] and "owners" in error["message"]
