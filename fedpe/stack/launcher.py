"""`fedpe up` / `fedpe down` / `fedpe status`: the federation's processes on one machine.

Start order follows what each part needs: Prefect, the Dask scheduler and MLflow start at
once; the scheduler gets the federation record (URLs a joining host needs), then the hosts
join; the runner registers the blocks and serves the tool deployments once Prefect is
healthy; the API comes last. Every wait is bounded and names what failed.

With `tls`, the scheduler listens on tls:// and requires encryption; the demo hosts present
certificates of the federation CA (fedpe/stack/tls.py), and the launcher, the runner's flows
(through the Federation block) and the API present the client certificate.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import httpx

from fedpe.errors import StackError
from fedpe.stack.config import StackConfig, state_file
from fedpe.stack.processes import Child, check_ports, spawn, stop, wait_until

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

    def urls(self) -> dict[str, str]:
        c = self.config
        urls = {
            "prefect_ui": f"http://{c.bind}:{c.prefect_port}",
            "prefect_api": c.prefect_api_url,
            "dask_dashboard": f"http://{c.bind}:{c.dashboard_port}/status",
            "mlflow_ui": c.mlflow_uri,
            "store": c.store,
        }
        if c.serve_api:
            urls["dashboard"] = f"{c.api_url}/"
            urls["api"] = f"{c.api_url}/api/v1"
            urls["api_docs"] = f"{c.api_url}/docs"
        return urls

    def env(self) -> dict[str, str]:
        """What a Python caller of `run_deployment` (or the MLflow client) needs."""
        env = {
            "PREFECT_API_URL": self.config.prefect_api_url,
            "MLFLOW_TRACKING_URI": self.config.mlflow_uri,
            "FEDPE_HOME": str(self.config.home),
        }
        if self.config.serve_api:
            env["FEDPE_API_URL"] = f"{self.config.api_url}/api/v1"
        if self.config.tls:
            # A TLS scheduler takes no client without a certificate: name both for Dask callers.
            from fedpe.stack.tls import tls_files

            env["FEDPE_SCHEDULER_ADDRESS"] = self.config.scheduler_address
            env.update(tls_files(self.config.home).client.env())
        return env

    def to_dict(self) -> dict:
        return {
            "config": json.loads(self.config.model_dump_json()),
            "children": [c.to_dict() for c in self.children],
            "hosts": self.hosts,
            "data_dirs": self.data_dirs,
            "scheduler": self.config.scheduler_address,
            "urls": self.urls(),
            "started_at": self.started_at,
            "ready_s": self.ready_s,
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
        )


def base_env(config: StackConfig) -> dict[str, str]:
    """The environment every child shares: one Prefect API, one MLflow, no telemetry."""
    env = dict(os.environ)
    env.update({
        "FEDPE_HOME": str(config.home),
        "PREFECT_HOME": str(config.home / "prefect"),
        "PREFECT_API_URL": config.prefect_api_url,
        # With no internet, telemetry fails and on a new database races the migrations.
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_API_DATABASE_CONNECTION_URL": f"sqlite+aiosqlite:///{config.home / 'prefect' / 'prefect.db'}",
        # Submit-to-start latency is mostly the runner's polling (DESIGN.md).
        "PREFECT_RUNNER_POLL_FREQUENCY": "1",
        "PREFECT_LOGGING_LEVEL": env.get("PREFECT_LOGGING_LEVEL", "INFO"),
        "MLFLOW_TRACKING_URI": config.mlflow_uri,
        # A dead host's role must not be re-run from round 0 behind the server's back.
        "DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES": "0",
        "PYTHONUNBUFFERED": "1",
    })
    return env


def _http_ok(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2.0).status_code == 200
    except httpx.HTTPError:
        return False


def client_security(config: StackConfig):
    """The Dask Security of the stack's own clients: None for plain TCP."""
    if not config.tls:
        return None
    from fedpe.stack.tls import client_security as security_of, tls_files

    return security_of(tls_files(config.home).client)


def _scheduler_client(address: str, timeout_s: float = 5.0, security=None):
    from distributed import Client

    return Client(address, timeout=f"{timeout_s}s", set_as_default=False, security=security)


def scheduler_argv(config: StackConfig) -> list[str]:
    """The Dask scheduler's command line; with TLS, its certificate and a tls:// listener."""
    argv = [
        sys.executable, "-m", "distributed.cli.dask_scheduler", "--host", config.bind,
        "--port", str(config.scheduler_port), "--dashboard-address", f"{config.bind}:{config.dashboard_port}",
    ]
    if config.tls:
        from fedpe.stack.tls import tls_files

        argv += ["--protocol", "tls", *tls_files(config.home).scheduler.cli_args()]
    return argv


def scheduler_env(config: StackConfig, env: dict[str, str]) -> dict[str, str]:
    if not config.tls:
        return env
    # Refuse any plain-TCP comm, inbound or outbound, rather than fall back to it.
    return {**env, "DASK_DISTRIBUTED__COMM__REQUIRE_ENCRYPTION": "True"}


def host_tls_args(config: StackConfig, host: str) -> list[str]:
    """`fedpe host start --tls-*` for a demo host: a certificate of its own from the federation CA."""
    if not config.tls:
        return []
    from fedpe.stack.tls import issue_host_cert, tls_files

    files = issue_host_cert(config.home, host, tls_files(config.home).host_dir(host),
                            sans=[config.bind, "127.0.0.1", "localhost"], reuse=True)
    return files.cli_args()


def up(config: StackConfig, progress: Progress = lambda _msg: None) -> Stack:
    """Start every process of the local stack and return once all are ready."""
    started = time.monotonic()
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
    for sub in ("prefect", "logs", "data", "mlflow"):
        (home / sub).mkdir(parents=True, exist_ok=True)
    tls = None
    if config.tls:
        from fedpe.stack.tls import ensure_federation_tls

        progress("making the federation's TLS certificates")
        tls = ensure_federation_tls(home, config.bind)
    security = client_security(config)

    stack = Stack(config=config, started_at=dt.datetime.now(dt.timezone.utc).isoformat())
    env = base_env(config)
    logs = home / "logs"
    py = sys.executable
    try:
        progress("writing the demo hosts' data")
        from tasks.data.demo import host_names, write_demo_data

        stack.hosts = host_names(config.hosts)
        dirs = write_demo_data(
            home / "data", stack.hosts, partition=config.partition, alpha=config.alpha,
            seed=config.seed, fmt=config.data_format,
        )
        stack.data_dirs = {h: str(p) for h, p in dirs.items()}

        progress("starting Prefect, the Dask scheduler and MLflow")
        prefect = spawn("prefect-server", [
            py, "-m", "prefect", "server", "start", "--host", config.bind, "--port", str(config.prefect_port),
        ], env=env, logs=logs)
        stack.children.append(prefect)
        scheduler = spawn("dask-scheduler", scheduler_argv(config), env=scheduler_env(config, env), logs=logs)
        stack.children.append(scheduler)
        mlflow = _start_mlflow(config, env, logs)
        stack.children.append(mlflow)
        stack.save()

        progress("waiting for the Dask scheduler")
        client = wait_until(lambda: _scheduler_client(config.scheduler_address, 1.0, security),
                            timeout_s=config.ready_timeout_s,
                            what="the Dask scheduler", child=scheduler)
        try:
            from tasks.hosts import FEDERATION_METADATA_KEY, connected_hosts

            client.set_metadata([FEDERATION_METADATA_KEY], {
                "prefect_api_url": config.prefect_api_url,
                "mlflow_tracking_uri": config.mlflow_uri,
                "store_url": config.store,
            })
            progress(f"starting {len(stack.hosts)} hosts")
            for host in stack.hosts:
                stack.children.append(spawn(f"host-{host}", [
                    py, "-m", "fedpe.cli", "host", "start", "--name", host,
                    "--scheduler", config.scheduler_address, "--data-dir", stack.data_dirs[host],
                    "--threads", str(config.host_threads), *host_tls_args(config, host),
                ], env=env, logs=logs, role="host"))
            stack.save()

            progress("waiting for Prefect")
            wait_until(lambda: _http_ok(f"{config.prefect_api_url}/health"), timeout_s=config.ready_timeout_s,
                       what="the Prefect server", child=prefect)
            progress("starting the runner (blocks and deployments)")
            runner_env = dict(env)
            runner_env.update({
                "FEDPE_SCHEDULER_ADDRESS": config.scheduler_address,
                "FEDPE_STORE_URL": config.store,
                "FEDPE_STORE_OPTIONS": json.dumps(config.store_options),
                "FEDPE_OWNER": config.owner,
                "FEDPE_RUNNER_LIMIT": str(config.runner_limit),
            })
            if tls is not None:
                # The Federation block (runner) and the API's scheduler client present these.
                runner_env.update(tls.client.env())
            runner = spawn("runner", [py, "-m", "deployments.serve"], env=runner_env, logs=logs, role="runner")
            stack.children.append(runner)
            stack.save()

            host_children = {c.name: c for c in stack.children if c.role == "host"}
            for host in stack.hosts:
                progress(f"waiting for host {host}")
                wait_until(lambda: host in connected_hosts(client), timeout_s=config.ready_timeout_s,
                           what=f"host {host}", child=host_children[f"host-{host}"])
        finally:
            client.close()

        progress("waiting for MLflow")
        wait_until(lambda: _http_ok(f"{config.mlflow_uri}/health"), timeout_s=config.ready_timeout_s,
                   what="the MLflow server", child=mlflow)
        progress("waiting for the tool deployments")
        from flows.catalog import tool_ids

        for tool in tool_ids():
            wait_until(lambda: _http_ok(f"{config.prefect_api_url}/deployments/name/{tool}/default"),
                       timeout_s=config.ready_timeout_s, what=f"the {tool} deployment", child=runner)
        if config.serve_api:
            progress("starting the fedpe API")
            api = spawn("api", [py, "-m", "fedpe.api", "--host", config.bind, "--port", str(config.api_port)],
                        env={**runner_env}, logs=logs)
            stack.children.append(api)
            stack.save()
            wait_until(lambda: _http_ok(f"{config.api_url}/api/v1/health/live"), timeout_s=config.ready_timeout_s,
                       what="the fedpe API", child=api)
    except BaseException:
        stop(stack.children)
        stack.children = []
        stack.save()
        raise
    stack.ready_s = round(time.monotonic() - started, 2)
    stack.save()
    return stack


def _start_mlflow(config: StackConfig, env: dict[str, str], logs: Path) -> Child:
    """MLflow tracking on SQLite, artifacts in the store, one worker (DESIGN.md)."""
    db = config.home / "mlflow" / "mlflow.db"
    backend = f"sqlite:///{db}"
    py = sys.executable
    if db.exists():
        import subprocess

        # An existing database may predate this MLflow: migrate before serving it.
        subprocess.run([py, "-m", "mlflow", "db", "upgrade", backend], env=env, check=False,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=120)
    artifacts = config.store.rstrip("/") + "/mlflow-artifacts"
    return spawn("mlflow", [
        py, "-m", "mlflow", "server", "--backend-store-uri", backend,
        "--artifacts-destination", artifacts, "--host", config.bind, "--port", str(config.mlflow_port),
        "--workers", "1",
    ], env=env, logs=logs)


def down(home: Path) -> list[str]:
    """Stop every process a stack under `home` started; returns the names stopped."""
    stack = Stack.load(home)
    if stack is None:
        return []
    alive = [c for c in stack.children if c.alive()]
    stop(stack.children)
    stack.children = []
    stack.save()
    return [c.name for c in alive]


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
        "env": stack.env(),
        "processes": processes,
        "hosts": {h: {"connected": h in connected, "address": connected.get(h)} for h in sorted({*stack.hosts, *connected})},
        "started_at": stack.started_at,
        "ready_s": stack.ready_s,
    }
