"""A federation without servers, for the unit tests of the API and the dashboard.

The API's real services (executions, jobs, data, streams, hosts, users, sessions) run over a
Prefect that is a few dicts (flow runs, task runs, logs), a Dask scheduler that is a dict of
hosts and their agents' records, a real store in a temporary folder and a real user database.
The app is `create_app()` with this state put in place of the lifespan's (a TestClient used
without `with` does not run the lifespan, so nothing connects anywhere).
"""

from __future__ import annotations

import datetime as dt
import json
import re
import uuid
from dataclasses import dataclass, field
from types import SimpleNamespace

import pytest

DEPLOYMENTS = {tool: uuid.uuid5(uuid.NAMESPACE_URL, f"fedpe-test/{tool}")
               for tool in ("health-check", "flcore", "fed-stats", "pipeline")}
HOSTS = ("hospital-a", "hospital-b", "hospital-c")
PASSWORD = "correct-horse-battery"


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def _record(name: str) -> dict:
    columns = [{"name": f"x{i}", "dtype": "float"} for i in range(4)] + [{"name": "target", "dtype": "int"}]
    return {
        "name": name, "address": f"tcp://127.0.0.1:{40000 + HOSTS.index(name) if name in HOSTS else 49999}",
        "last_seen": _now().isoformat(), "started_at": _now().isoformat(),
        "datasets": [{"name": "breast-cancer", "format": "parquet", "rows": 150, "test_rows": 40, "columns": columns,
                      "size_bytes": 9000, "fingerprint": "0" * 64, "files": ["test.parquet", "train.parquet"]}],
        "resources": {"cpus": 2, "cpu_percent": 12.5, "load_avg": [0.5, 0.4, 0.3], "memory_total": 24 << 30,
                      "memory_available": 20 << 30, "disk_total": 250 << 30, "disk_free": 60 << 30, "gpus": []},
        "versions": {"python": "3.11.7", "fedpe": "0.1.0", "prefect": "3.8.8", "distributed": "2026.8.0"},
    }


class FakeScheduler:
    """The Dask scheduler as the API's Scheduler service answers: connected hosts, their records."""

    def __init__(self):
        self.connected = {name: _record(name) for name in HOSTS}
        self.known = dict(self.connected)
        self.events: dict[str, bool] = {}

    async def workers(self) -> dict:
        return {n: {"address": r["address"], "last_seen": _now().isoformat(), "nthreads": 4}
                for n, r in self.connected.items()}

    async def host_records(self) -> dict:
        return dict(self.known)

    async def set_event(self, name: str, on: bool) -> None:
        self.events[name] = on

    async def ping(self) -> dict:
        return {"workers": len(self.connected), "address": "tcp://127.0.0.1:8786"}

    def close(self) -> None:
        pass


_STATE_NAMES = {"SCHEDULED": "Scheduled", "PENDING": "Pending", "RUNNING": "Running", "PAUSED": "Paused",
                "CANCELLING": "Cancelling", "COMPLETED": "Completed", "FAILED": "Failed", "CRASHED": "Crashed",
                "CANCELLED": "Cancelled"}


class FakeOrchestrator:
    """Prefect as the API's Orchestrator service answers, over flow runs kept in memory."""

    deployment_owner = "admin"

    def __init__(self):
        self.runs: dict[uuid.UUID, SimpleNamespace] = {}
        self.task_runs_of: dict[uuid.UUID, list] = {}
        self.log_lines: list[SimpleNamespace] = []
        self.submitted: list[dict] = []

    # reading
    async def deployment_ids(self, tools: list[str]) -> dict:
        return {t: DEPLOYMENTS[t] for t in tools if t in DEPLOYMENTS}

    async def flow_run(self, execution_id: str):
        from fedpe.api.services.orchestrator import parse_execution_id
        from fedpe.errors import JobNotFound

        run = self.runs.get(parse_execution_id(execution_id))
        if run is None:
            raise JobNotFound(f"no execution {execution_id}", field="execution_id")
        return run

    async def child_runs(self, run_id) -> list:
        return []

    async def task_runs(self, run_ids) -> list:
        return [t for rid in run_ids for t in self.task_runs_of.get(rid, [])]

    async def owner_of(self, flow_run) -> str:
        from flows.runtime import owner_from_tags

        return owner_from_tags(list(flow_run.tags), ["fedpe-owner:admin"])

    @staticmethod
    def tool_of(flow_run):
        from fedpe.api.services.orchestrator import Orchestrator

        return Orchestrator.tool_of(flow_run)

    async def list_runs(self, *, deployment_ids, state_types, owner_tag, cap) -> list:
        runs = [r for r in self.runs.values() if r.deployment_id in deployment_ids
                and (not state_types or r.state_type in state_types) and (not owner_tag or owner_tag in r.tags)]
        return sorted(runs, key=lambda r: r.created, reverse=True)[:cap]

    async def count_runs(self, *, deployment_ids, state_types) -> int:
        return sum(1 for r in self.runs.values() if r.deployment_id in deployment_ids and r.state_type in state_types)

    async def logs(self, run_ids, *, task_run_ids=None, min_level=None, after=None, offset=0, limit=200) -> list:
        lines = [line for line in self.log_lines if line.flow_run_id in run_ids
                 and (task_run_ids is None or line.task_run_id in task_run_ids)
                 and (min_level is None or line.level >= min_level) and (after is None or line.timestamp > after)]
        return sorted(lines, key=lambda line: line.timestamp)[offset:offset + limit]

    # changing
    async def submit(self, tool: str, parameters: dict, *, owner: str, idempotency_key: str | None):
        self.submitted.append({"tool": tool, "parameters": parameters, "owner": owner, "key": idempotency_key})
        return self.add(tool, owner, "SCHEDULED", parameters)

    async def set_state(self, run_id, state) -> None:
        self.set(run_id, str(getattr(state.type, "value", state.type)))

    async def rename(self, run_id, name: str) -> None:
        self.runs[run_id].name = name

    async def delete(self, run_id) -> None:
        self.runs.pop(run_id, None)

    async def ping(self) -> dict:
        return {"version": "0.8.4"}

    # for the tests
    def add(self, tool: str, owner: str, state_type: str, parameters: dict, name: str | None = None):
        run_id = uuid.uuid4()
        now = _now()
        run = SimpleNamespace(
            id=run_id, name=name or f"{tool}-{run_id.hex[:6]}", tags=[f"fedpe-tool:{tool}", f"fedpe-owner:{owner}",
                                                                      "fedpe-owner:admin"],
            parameters=parameters, deployment_id=DEPLOYMENTS[tool], created=now, start_time=None, end_time=None,
            total_run_time=dt.timedelta(0), state_type=None, state_name=None, state=None)
        self.runs[run_id] = run
        self.set(run_id, state_type)
        return run

    def set(self, run_id, state_type: str, message: str | None = None) -> None:
        run = self.runs[run_id]
        run.state_type, run.state_name = state_type, _STATE_NAMES[state_type]
        run.state = SimpleNamespace(message=message, type=state_type, name=run.state_name)
        if state_type == "RUNNING" and run.start_time is None:
            run.start_time = _now()
        if state_type in ("COMPLETED", "FAILED", "CRASHED", "CANCELLED"):
            run.end_time = _now()
            run.total_run_time = run.end_time - (run.start_time or run.created)
        for task_run in self.task_runs_of.get(run_id, []):
            if state_type in ("COMPLETED", "FAILED", "CANCELLED"):
                task_run.state_type, task_run.end_time = state_type, _now()

    def role(self, run_id, task: str, host: str, state_type: str = "RUNNING") -> SimpleNamespace:
        now = _now()
        task_run = SimpleNamespace(id=uuid.uuid4(), name=f"{task}[{host}]", state_type=state_type,
                                   expected_start_time=now, created=now, start_time=now, end_time=None,
                                   total_run_time=dt.timedelta(seconds=1), estimated_run_time=dt.timedelta(seconds=1))
        self.task_runs_of.setdefault(run_id, []).append(task_run)
        return task_run

    def log(self, run_id, message: str, *, task_run=None, level: int = 20, at: dt.datetime | None = None):
        line = SimpleNamespace(id=uuid.uuid4(), flow_run_id=run_id, task_run_id=task_run.id if task_run else None,
                               timestamp=at or _now(), level=level, name="prefect.task_runs", message=message)
        self.log_lines.append(line)
        return line


@dataclass
class Federation:
    """The state the app serves, and the fakes under it, with helpers to make executions."""

    state: object
    prefect: FakeOrchestrator
    scheduler: FakeScheduler
    disabled: list[str] = field(default_factory=list)
    mlflow_deleted: list[str] = field(default_factory=list)

    @property
    def store(self):
        return self.state.outputs.spec

    def training(self, owner: str, *, state_type: str = "RUNNING", rounds: int = 5, history: int = 0,
                 dropped: dict[int, list[str]] | None = None, paused: bool = False, name: str | None = None) -> str:
        """An flcore execution of `owner` on the three hosts with `history` rounds done."""
        params = {"server": "hospital-a", "clients": list(HOSTS), "dataset": "breast-cancer", "rounds": rounds,
                  "strategy": {"name": "fedavg"}}
        run = self.prefect.add("flcore", owner, state_type, params, name=name)
        server = self.prefect.role(run.id, "flcore-server", "hospital-a")
        for host in HOSTS:
            self.prefect.role(run.id, "flcore-client", host)
        self.prefect.log(run.id, "round 1/5: accuracy 0.61", task_run=server)
        self.write_progress(str(run.id), rounds=rounds, done=history, dropped=dropped or {}, paused=paused)
        return str(run.id)

    def write_progress(self, execution_id: str, *, rounds: int, done: int, dropped: dict[int, list[str]],
                       paused: bool = False, mlflow_run_id: str | None = "0123456789abcdef") -> list[dict]:
        history = []
        for r in range(1, done + 1):
            out = dropped.get(r, [])
            clients = [h for h in HOSTS if h not in out]
            history.append({
                "round": r, "loss": round(0.7 - 0.05 * r, 6), "accuracy": round(0.6 + 0.03 * r, 6),
                "round_ms": 4.5 + r, "num_examples": 300, "ended_at": _now().isoformat(),
                "clients": clients, "dropped": out,
                "per_client": {h: {"loss": round(0.71 - 0.05 * r + 0.01 * i, 6),
                                   "accuracy": round(0.59 + 0.03 * r - 0.01 * i, 6)} for i, h in enumerate(clients)},
            })
        from tasks.rounds import write_round

        for entry in history:  # as the coordinator stores them: each round its own object, then the header
            write_round(self.store, execution_id, entry)
        progress = {"tool": "flcore", "execution_id": execution_id, "status": "running", "paused": paused,
                    "round": done, "rounds": rounds, "metrics": {},
                    "mlflow_run_id": mlflow_run_id, "model_uri": None, "server": "hospital-a"}
        self.store.write_bytes(json.dumps(progress).encode(), execution_id, "_progress.json")
        return history

    def file(self, execution_id: str, host: str, name: str, data: bytes) -> None:
        self.store.write_bytes(data, execution_id, host, *name.split("/"))

    def user(self, name: str, *, admin: bool = False, password: str = PASSWORD) -> str:
        """A user with a password; returns their API key."""
        return self.state.users.add(name, admin=admin, password=password)[1]


@pytest.fixture
def cheap_hashing(monkeypatch):
    """argon2id at its lowest cost: a hash takes ~1 s at the real cost on these machines, and the
    page tests sign in often. What is hashed and checked does not change."""
    from pwdlib import PasswordHash
    from pwdlib.hashers.argon2 import Argon2Hasher

    from fedpe.auth import hashing

    cheap = PasswordHash((Argon2Hasher(time_cost=1, memory_cost=1024, parallelism=1),))
    monkeypatch.setattr(hashing, "_hasher", lambda: cheap)
    monkeypatch.setattr(hashing, "_DUMMY_HASH", lambda: cheap.hash("fedpe-no-such-user"))


@pytest.fixture
def federation(tmp_path, monkeypatch, cheap_hashing) -> Federation:
    from fedpe.api.services import hosts as host_service
    from fedpe.api.services.data import Data
    from fedpe.api.services.executions import Executions
    from fedpe.api.services.jobs import Jobs
    from fedpe.api.settings import ApiSettings
    from fedpe.api.state import AppState
    from fedpe.api.streams import Hub

    settings = ApiSettings(home=tmp_path / "home", scheduler_address=None, store_url=f"file://{tmp_path / 'store'}",
                           mlflow_uri="http://mlflow.test", prefect_api_url="http://prefect.test/api",
                           prefect_ui_url="http://prefect.test", session_ttl_s=3600)
    state = AppState(settings)
    prefect, scheduler = FakeOrchestrator(), FakeScheduler()
    state.scheduler, state.orchestrator = scheduler, prefect
    state.jobs = Jobs(prefect, scheduler, state.submit_tokens, state.outputs)
    state.executions = Executions(prefect, scheduler, state.outputs, settings.mlflow_uri, jobs=state.jobs,
                                  submit_tokens=state.submit_tokens, prefect_ui_url=settings.prefect_ui_url)
    state.data = Data(state.executions, state.outputs)
    state.streams = Hub(state.executions, prefect, state.outputs)
    fed = Federation(state, prefect, scheduler)

    async def disabled_hosts():
        return list(fed.disabled)

    async def set_disabled(host, disabled):
        fed.disabled[:] = sorted({*fed.disabled, host} if disabled else set(fed.disabled) - {host})
        return list(fed.disabled)

    async def delete_mlflow_run(run_id):  # MLflow is not there: its client would retry for minutes
        if run_id:
            fed.mlflow_deleted.append(run_id)
        return bool(run_id)

    state.executions._delete_mlflow_run = delete_mlflow_run
    monkeypatch.setattr(host_service, "disabled_hosts", disabled_hosts)
    monkeypatch.setattr(host_service, "set_disabled", set_disabled)
    return fed


@pytest.fixture
def app(federation):
    from fedpe.api.app import create_app

    application = create_app()
    application.state.fedpe = federation.state
    return application


_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(html: str) -> str:
    match = _CSRF.search(html)
    assert match, "no csrf_token in the page"
    return match.group(1)


@pytest.fixture
def browser_for(app, federation):
    """`browser_for(name)`: a TestClient signed in as `name` through the sign-in form; its `.csrf`
    is the session's CSRF token (a new user with PASSWORD, admin when `admin=True`)."""
    from fastapi.testclient import TestClient

    def make(name: str, *, admin: bool = False):
        if federation.state.users.get(name) is None:
            federation.user(name, admin=admin)
        client = TestClient(app, follow_redirects=False)
        form = client.get("/login")
        signed = client.post("/login", data={"username": name, "password": PASSWORD,
                                             "csrf_token": csrf_of(form.text), "next": "/"})
        assert signed.status_code == 303, signed.text
        client.csrf = csrf_of(client.get("/").text)
        return client
    return make
