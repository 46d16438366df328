"""`fedpe up` / `fedpe down` / `fedpe status`: the federation's processes on one machine.

Start order follows what each part needs: Prefect, the Dask scheduler and MLflow start at
once; the hosts join the scheduler; the runner registers the blocks and serves the tool
deployments once Prefect is healthy; MLflow gets fedpe's service account; the API comes last.
Every wait is bounded and names what failed.

Every service is closed to strangers: Prefect needs its auth string, MLflow its basic-auth
users (fedpe/stack/secrets.py), and the scheduler speaks mutual TLS only, behind its guard
(fedpe/stack/scheduler_guard.py). The demo hosts present certificates of their own names; the
launcher, the runner's flows and the API present the coordinator's. Each child gets only the
environment it needs (fedpe/stack/environments.py).
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable

import httpx

from fedpe.errors import StackError
from fedpe.stack import cache, environments
from fedpe.stack.config import StackConfig, state_file
from fedpe.stack.processes import Child, check_ports, spawn, stop, wait_until
from fedpe.stack.secrets import MLFLOW_ADMIN, MLFLOW_SERVICE, Secrets, ensure_secrets, load_secrets

if TYPE_CHECKING:
    from fedpe.stack.netns import Network

Progress = Callable[[str], None]


@dataclass
class Stack:
    """A running stack: its settings, its children and its URLs (saved as `{home}/stack.json`)."""

    config: StackConfig
    children: list[Child] = field(default_factory=list)
    hosts: list[str] = field(default_factory=list)
    data_dirs: dict[str, str] = field(default_factory=dict)
    started_at: str = ""
    ready_s: float | None = None
    #: The hosts' network namespaces (`netns`), so `down` can remove them.
    network: dict | None = None

    def urls(self) -> dict[str, str]:
        c = self.config
        urls = {
            "prefect_ui": f"http://{c.bind}:{c.prefect_port}",
            "prefect_api": c.prefect_api_url,
            "dask_health": f"http://{c.bind}:{c.dashboard_port}/health",  # loopback, health only
            "mlflow_ui": c.mlflow_uri,
            "store": c.store,
        }
        if c.serve_api:
            urls["dashboard"] = f"{c.api_url}/"
            urls["api"] = f"{c.api_url}/api/v1"
            urls["api_docs"] = f"{c.api_url}/docs"
        return urls

    def env(self, *, with_secrets: bool = False) -> dict[str, str]:
        """What a Python caller of `run_deployment` (or the MLflow client) on this machine needs;
        the credentials only when asked (`fedpe env`), never in `fedpe status`."""
        secrets = load_secrets(self.config.home) if with_secrets else None
        return environments.caller(self.config, secrets)

    def to_dict(self) -> dict:
        return {
            "config": self.config.public_dict(),
            "children": [c.to_dict() for c in self.children],
            "hosts": self.hosts,
            "data_dirs": self.data_dirs,
            "scheduler": self.config.scheduler_address,
            "urls": self.urls(),
            "started_at": self.started_at,
            "ready_s": self.ready_s,
            "network": self.network,
        }

    def save(self) -> None:
        path = state_file(self.config.home)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.to_dict(), indent=2))
        tmp.replace(path)

    @classmethod
    def load(cls, home: Path) -> "Stack | None":
        path = state_file(home)
        if not path.exists():
            return None
        raw = json.loads(path.read_text())
        return cls(
            config=StackConfig.model_validate(raw["config"]),
            children=[Child(**c) for c in raw.get("children", [])],
            hosts=raw.get("hosts", []),
            data_dirs=raw.get("data_dirs", {}),
            started_at=raw.get("started_at", ""),
            ready_s=raw.get("ready_s"),
            network=raw.get("network"),
        )


@functools.cache
def _probe() -> httpx.Client:
    """The one client of the readiness checks: a new client per check loaded the CA bundle each
    time, 1.1 s of the launcher's CPU on the 3-host `fedpe up` (30 clients, cProfile)."""
    return httpx.Client(timeout=2.0)


def _close_probe() -> None:
    """Close the readiness checks' client once `up` is done with it (a foreground `fedpe up` lives
    on, and its connections to the services would stay open)."""
    if _probe.cache_info().currsize:
        _probe().close()
        _probe.cache_clear()


def _http_ok(url: str, auth: tuple[str, str] | None = None) -> bool:
    try:
        return _probe().get(url, auth=auth).status_code == 200
    except httpx.HTTPError:
        return False


def client_security(config: StackConfig):
    """The Dask Security of the stack's own clients: the coordinator's certificate."""
    from fedpe.stack.tls import client_security as security_of, tls_files

    return security_of(tls_files(config.home).coordinator)


def _scheduler_client(address: str, timeout_s: float = 5.0, security=None):
    from distributed import Client

    return Client(address, timeout=f"{timeout_s}s", set_as_default=False, security=security,
                  direct_to_workers=False)


def scheduler_argv(config: StackConfig) -> list[str]:
    """The Dask scheduler's command line: a fedpe:// listener, its certificate, its guard."""
    from fedpe.stack.tls import tls_files

    return [
        sys.executable, "-m", "distributed.cli.dask_scheduler", "--host", config.scheduler_host or config.bind,
        "--port", str(config.scheduler_port), "--dashboard-address", f"{config.bind}:{config.dashboard_port}",
        "--protocol", "fedpe", *tls_files(config.home).scheduler.cli_args(),
        "--preload", "fedpe.stack.scheduler_guard",
    ]


def host_process(config: StackConfig, host: str, data_dir: str, link=None) -> tuple[list[str], dict[str, str]]:
    """(argv, environment) of a demo host, with a certificate of its own name from the federation CA.

    In its own network namespace (`link`) a host joins as one on another machine does, with
    `fedpe host start` and its checks. On loopback the launcher wrote every input itself, so it
    starts what `fedpe host start` becomes after its checks: the supervisor of the same worker
    (fedpe/host/start.py), without the CLI and the scheduler probe (about 0.8 s of CPU a host).
    """
    from fedpe.host.start import worker_argv, worker_env
    from fedpe.stack.netns import exec_in
    from fedpe.stack.tls import issue_host_cert, tls_files

    sans = [config.bind, "127.0.0.1", "localhost", *([link.address] if link else [])]
    files = issue_host_cert(config.home, host, tls_files(config.home).host_dir(host), sans=sans, reuse=True)
    if link is None:
        worker = worker_argv(host, config.scheduler_address, files, config.host_threads, supervised=True)
        env = worker_env(host, Path(data_dir), source=environments.inherited())
        return [sys.executable, "-m", "fedpe.host.supervisor", "--", *worker], {**env, "PYTHONUNBUFFERED": "1"}
    argv = [*exec_in(link), sys.executable, "-m", "fedpe.cli", "host", "start", "--name", host,
            "--scheduler", config.scheduler_address, "--data-dir", data_dir,
            "--threads", str(config.host_threads), *files.cli_args()]
    # The caller's environment without credentials (the host keeps fewer still).
    return argv, {**environments.inherited(), "PYTHONUNBUFFERED": "1"}


def up(config: StackConfig, progress: Progress = lambda _msg: None) -> Stack:
    """Start every process of the local stack and return once all are ready: its home and
    certificates first, then the services (all at once, so their imports overlap), then the
    hosts, then the wait for each to answer. Anything that fails stops what was started."""
    started = time.monotonic()
    secrets, network = _prepare(config, progress)
    stack = Stack(config=config, started_at=dt.datetime.now(dt.timezone.utc).isoformat(),
                  network=network.to_dict() if network else None)
    try:
        from tasks.data.layout import host_names

        stack.hosts = host_names(config.hosts)
        if network is not None:
            from fedpe.stack import netns

            progress(f"putting {len(stack.hosts)} hosts in network namespaces of their own")
            stack.save()
            netns.create(network, netem=config.netem)
        services = _start_services(stack, secrets, progress)
        # While they start: the hosts' data.
        stack.data_dirs = _demo_data(config, stack.hosts, progress)
        _start_hosts(stack, network, services, progress)
        _wait_for_services(stack, secrets, services, progress)
    except BaseException:
        stop(stack.children)
        stack.children = []
        _remove_network(stack)
        stack.save()
        raise
    finally:
        _close_probe()
    stack.ready_s = round(time.monotonic() - started, 2)
    stack.save()
    return stack


def _prepare(config: StackConfig, progress: Progress) -> tuple[Secrets, Network | None]:
    """(the services' secrets, the network plan or None): ports free, FEDPE_HOME and its secrets,
    the hosts' namespaces planned, the federation's certificates made."""
    home = config.home
    existing = Stack.load(home)
    if existing and any(c.alive() for c in existing.children):
        raise StackError(f"a stack is already running from {home} (see `fedpe status`; stop it with `fedpe down`)")
    ports = {
        "Prefect server": config.prefect_port, "Dask scheduler": config.scheduler_port,
        "Dask dashboard": config.dashboard_port, "MLflow": config.mlflow_port,
    }
    if config.serve_api:
        ports["fedpe API"] = config.api_port
    check_ports(config.bind, ports)
    secrets = ensure_secrets(home)  # FEDPE_HOME 0700, the services' credentials 0600
    for sub in ("prefect", "logs", "data", "mlflow"):
        (home / sub).mkdir(parents=True, exist_ok=True)
    network = None
    if config.netns:
        from fedpe.stack import netns
        from tasks.data.layout import host_names as demo_names

        reason = netns.unavailable()
        if reason:
            raise StackError(f"--netns: {reason}")
        network = netns.plan(home, demo_names(config.hosts))
        config.scheduler_host = network.gateway
    from fedpe.stack.tls import ensure_federation_tls

    progress("making the federation's TLS certificates")
    ensure_federation_tls(home, config.bind, extra_names=[config.scheduler_host] if config.scheduler_host else [])
    return secrets, network


def _start_services(stack: Stack, secrets: Secrets, progress: Progress) -> dict[str, Child | None]:
    """Prefect, the scheduler, MLflow, the runner and the API, all started at once; by name."""
    config, logs, py = stack.config, stack.config.home / "logs", sys.executable
    progress("starting Prefect, the Dask scheduler and MLflow")
    services: dict[str, Child | None] = {}
    services["scheduler"] = spawn("dask-scheduler", scheduler_argv(config), env=environments.scheduler(config),
                                  logs=logs)
    services["mlflow"] = _start_mlflow(config, secrets, logs)
    # The runner and the API start now too: their imports (Prefect, the tools, FastAPI) overlap
    # the servers' start-up, and each waits for the Prefect API itself before it uses it.
    runner_env = environments.coordinator(config, secrets)
    services["runner"] = spawn("runner", [py, "-m", "deployments.serve"], env=runner_env, logs=logs, role="runner")
    services["api"] = None
    if config.serve_api:
        services["api"] = spawn("api", [py, "-m", "fedpe.api", "--host", config.bind, "--port", str(config.api_port)],
                                env={**runner_env}, logs=logs)
    stack.children.extend(c for c in services.values() if c is not None)
    stack.save()
    # A new home gets a database Prefect already migrated (fedpe/stack/cache.py; made once per machine).
    cache.prefect_database(environments.prefect_db(config))
    services["prefect"] = spawn("prefect-server", [
        py, "-m", "prefect", "server", "start", "--host", config.bind, "--port", str(config.prefect_port),
    ], env=environments.prefect_server(config, secrets), logs=logs)
    stack.children.insert(0, services["prefect"])
    stack.save()
    return services


def _start_hosts(stack: Stack, network: Network | None, services: dict[str, Child | None], progress: Progress) -> None:
    """Every host's worker, once the scheduler answers; back when each is connected (and Prefect up)."""
    from tasks.hosts import connected_hosts

    config = stack.config
    security = client_security(config)
    progress("waiting for the Dask scheduler")
    client = wait_until(lambda: _scheduler_client(config.scheduler_address, 1.0, security),
                        timeout_s=config.ready_timeout_s, what="the Dask scheduler", child=services["scheduler"])
    try:
        progress(f"starting {len(stack.hosts)} hosts")
        for host in stack.hosts:
            link = network.links[host] if network else None
            argv, env = host_process(config, host, stack.data_dirs[host], link)
            stack.children.append(spawn(f"host-{host}", argv, env=env, logs=config.home / "logs", role="host",
                                        nice=config.host_nice))
        stack.save()

        progress("waiting for Prefect")
        wait_until(lambda: _http_ok(f"{config.prefect_api_url}/health"), timeout_s=config.ready_timeout_s,
                   what="the Prefect server", child=services["prefect"])

        host_children = {c.name: c for c in stack.children if c.role == "host"}
        for host in stack.hosts:
            progress(f"waiting for host {host}")
            wait_until(lambda: host in connected_hosts(client), timeout_s=config.ready_timeout_s,
                       what=f"host {host}", child=host_children[f"host-{host}"])
    finally:
        client.close()


def _wait_for_services(stack: Stack, secrets: Secrets, services: dict[str, Child | None], progress: Progress) -> None:
    """MLflow (and fedpe's service user in it), every tool's deployment, the API."""
    config = stack.config
    progress("waiting for MLflow")
    wait_until(lambda: _http_ok(f"{config.mlflow_uri}/health"), timeout_s=config.ready_timeout_s,
               what="the MLflow server", child=services["mlflow"])
    ensure_mlflow_service(config, secrets)
    progress("waiting for the tool deployments")
    from flows.catalog import tool_ids

    for tool in tool_ids():
        wait_until(lambda: _http_ok(f"{config.prefect_api_url}/deployments/name/{tool}/default",
                                    tuple(secrets.prefect_auth_string.split(":", 1))),
                   timeout_s=config.ready_timeout_s, what=f"the {tool} deployment", child=services["runner"])
    if services["api"] is not None:
        progress("waiting for the fedpe API")
        wait_until(lambda: _http_ok(f"{config.api_url}/api/v1/health/live"), timeout_s=config.ready_timeout_s,
                   what="the fedpe API", child=services["api"])


def _demo_data(config: StackConfig, hosts: list[str], progress: Progress) -> dict[str, str]:
    """The demo hosts' data folders, written unless this home already holds exactly these files.

    Writing is deterministic (same arguments, same bytes), so a stamp of the arguments and of
    each file's size says whether a rewrite would change anything; skipping it saves importing
    scikit-learn and writing every host's files on each `fedpe up`."""
    import hashlib
    import importlib.util

    from tasks.data.catalogue import catalogue_signature

    root = config.home / "data"
    # The code that writes the files is part of the stamp: a new demo dataset, or a change in how
    # one is split, rewrites them (found without importing it: it imports pandas and scikit-learn).
    writer = Path(importlib.util.find_spec("tasks.data.demo").origin).read_bytes()
    wanted = {"hosts": hosts, "partition": config.partition, "alpha": config.alpha, "seed": config.seed,
              "format": config.data_format, "missing": config.missing,
              "writer": hashlib.sha256(writer).hexdigest()}
    stamp_file = root / ".demo-data.json"

    def files() -> dict[str, list]:
        return {h: [list(f[:3]) for f in catalogue_signature(root / h)] if (root / h).is_dir() else []
                for h in hosts}

    try:
        stamp = json.loads(stamp_file.read_text())
    except (OSError, ValueError):
        stamp = None
    if stamp is None or stamp.get("arguments") != wanted or stamp.get("files") != files():
        progress("writing the demo hosts' data")
        cache.demo_data(root, hosts, wanted, lambda folder: _write_demo_data(config, folder, hosts))
        stamp_file.write_text(json.dumps({"arguments": wanted, "files": files()}))
    from tasks.data.scan import describe, remembered

    for host in hosts:  # described here, in one process, so no host scans its files as it starts
        if remembered(root / host, catalogue_signature(root / host)) is None:
            describe(root / host)
    return {h: str(root / h) for h in hosts}


def _write_demo_data(config: StackConfig, folder: Path, hosts: list[str]) -> None:
    """Write and describe the demo hosts' files under `folder` (the copy `fedpe.stack.cache` keeps)."""
    from tasks.data.demo import write_demo_data
    from tasks.data.scan import describe

    write_demo_data(folder, hosts, partition=config.partition, alpha=config.alpha, seed=config.seed,
                    fmt=config.data_format, missing=config.missing)
    for host in hosts:
        describe(folder / host)


MLFLOW_AUTH_INI = """[mlflow]
default_permission = NO_PERMISSIONS
database_uri = {database}
admin_username = {admin}
authorization_function = mlflow.server.auth:authenticate_request_basic_auth
# Without it every request pays a PBKDF2 check (a model upload is dozens of requests); one
# worker, so a changed password takes effect at once there anyway.
auth_cache_ttl_seconds = 60
"""


def _start_mlflow(config: StackConfig, secrets: Secrets, logs: Path) -> Child:
    """MLflow tracking on SQLite behind its basic-auth app, artifacts in the store, one worker (DESIGN.md)."""
    from fedpe.stack.private import write_private

    db = config.home / "mlflow" / "mlflow.db"
    backend = f"sqlite:///{db}"
    py = sys.executable
    auth_ini = config.home / "secrets" / "mlflow-auth.ini"
    write_private(auth_ini, MLFLOW_AUTH_INI.format(database=f"sqlite:///{config.home / 'mlflow' / 'auth.db'}",
                                                   admin=MLFLOW_ADMIN).encode())
    env = environments.mlflow_server(config, secrets, str(auth_ini))
    import importlib.metadata
    import importlib.util

    version = importlib.metadata.version("mlflow")
    migrated = config.home / "mlflow" / "migrated-by"
    if cache.mlflow_database(db):  # a new home: a database this MLflow migrated once (fedpe/stack/cache.py)
        migrated.write_text(version)
    if db.exists() and (not migrated.exists() or migrated.read_text().strip() != version):
        import subprocess

        # An existing database may predate this MLflow: migrate before serving it (once per
        # MLflow version: the upgrade alone imports MLflow, seconds of every `fedpe up`).
        done = subprocess.run([py, "-m", "mlflow", "db", "upgrade", backend], env=env, check=False,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=120)
        if done.returncode == 0:
            migrated.write_text(version)
    elif not db.exists():
        migrated.write_text(version)  # the server creates it at this version
    artifacts = config.store.rstrip("/") + "/mlflow-artifacts"
    # The uvicorn process `mlflow server --app-name basic-auth` would start, started directly
    # (environments.mlflow_app says why); a database it finds empty it creates itself.
    log_config = Path(importlib.util.find_spec("mlflow").origin).parent / "server" / "uvicorn_log_config.yaml"
    return spawn("mlflow", [
        py, "-m", "uvicorn", "--log-config", str(log_config), "--host", config.bind, "--port", str(config.mlflow_port),
        "--workers", "1", "--factory", "mlflow.server.auth:create_app",
    ], env={**env, **environments.mlflow_app(config, backend, artifacts)}, logs=logs)


def ensure_mlflow_service(config: StackConfig, secrets: Secrets) -> None:
    """fedpe's own MLflow identity: a user that is not MLflow's admin, with MANAGE on fedpe's experiments
    and models (MLflow grants it on what the user creates; this covers what a FEDPE_HOME had before)."""
    base = config.mlflow_uri
    with httpx.Client(auth=(MLFLOW_ADMIN, secrets.mlflow_admin_password), timeout=30) as http:
        known = http.get(f"{base}/api/2.0/mlflow/users/get", params={"username": MLFLOW_SERVICE})
        if known.status_code != 200:
            _mlflow_ok(http.post(f"{base}/api/2.0/mlflow/users/create",
                                 json={"username": MLFLOW_SERVICE, "password": secrets.mlflow_service_password}))
        found = http.post(f"{base}/api/2.0/mlflow/experiments/search", json={"max_results": 1000})
        _mlflow_ok(found)
        grants = [("experiment", e["experiment_id"]) for e in found.json().get("experiments", [])
                  if e.get("name") != "Default"]
        models = http.get(f"{base}/api/2.0/mlflow/registered-models/search", params={"max_results": 1000})
        _mlflow_ok(models)
        grants += [("registered_model", m["name"]) for m in models.json().get("registered_models", [])]
        for resource_type, resource_id in grants:
            query = {"username": MLFLOW_SERVICE, "resource_type": resource_type, "resource_id": resource_id}
            held = http.get(f"{base}/api/3.0/mlflow/users/permissions/get", params=query)
            if held.status_code == 200 and "MANAGE" in held.text:
                continue
            _mlflow_ok(http.post(f"{base}/api/3.0/mlflow/users/permissions/grant", json={**query, "permission": "MANAGE"}))


def _mlflow_ok(response: httpx.Response) -> None:
    if response.status_code != 200:
        raise StackError(f"MLflow refused fedpe's service account set-up: {response.status_code} "
                         f"{response.request.url.path}: {response.text[:300]}")


def down(home: Path) -> list[str]:
    """Stop every process a stack under `home` started; returns the names stopped."""
    stack = Stack.load(home)
    if stack is None:
        return []
    alive = [c for c in stack.children if c.alive()]
    stop(stack.children)
    stack.children = []
    _remove_network(stack)
    stack.save()
    return [c.name for c in alive]


def _remove_network(stack: Stack) -> None:
    if stack.network:
        from fedpe.stack.netns import Network, remove

        remove(Network.from_dict(stack.network))
        stack.network = None


def status(home: Path) -> dict:
    """What runs where: each process alive or not, the URLs, the connected hosts."""
    stack = Stack.load(home)
    if stack is None:
        return {"running": False, "home": str(home), "processes": [], "hosts": {}}
    processes = [{"name": c.name, "pid": c.pid, "alive": c.alive(), "log": c.log} for c in stack.children]
    connected: dict[str, str] = {}
    if any(p["alive"] for p in processes):
        try:
            from tasks.hosts import connected_hosts

            client = _scheduler_client(stack.config.scheduler_address, 2.0, client_security(stack.config))
            try:
                connected = connected_hosts(client)
            finally:
                client.close()
        except (OSError, TimeoutError):
            connected = {}
    return {
        "running": bool(processes) and all(p["alive"] for p in processes),
        "home": str(home),
        "scheduler": stack.config.scheduler_address,
        "urls": stack.urls(),
        "env": stack.env(),  # no credentials here: `fedpe env` prints those
        "processes": processes,
        "hosts": {h: {"connected": h in connected, "address": connected.get(h)} for h in sorted({*stack.hosts, *connected})},
        "started_at": stack.started_at,
        "ready_s": stack.ready_s,
    }
