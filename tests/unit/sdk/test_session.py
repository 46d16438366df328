"""What `Session` sends for each verb and how it reads the answers (httpx.MockTransport, no server)."""

from __future__ import annotations

import json
from collections.abc import Callable
from urllib.parse import parse_qs

import httpx
import pytest

from fedpe.errors import AuthenticationError, HostNotAvailable, InvalidArgument
from fedpe.sdk import Execution, Host, Session, TaskStatus, Tool

URL = "http://fedpe.test/api/v1"
JOB = {"id": "e1", "name": "first", "tool": "fed-train", "owner": "alice", "state": "Running", "status": "running",
       "parameters": {"rounds": 3}, "created": "2026-01-02T03:04:05Z", "started": None, "ended": None, "round": 1,
       "rounds": 3, "metrics": {"accuracy": 0.8}, "history": None, "mlflow_run_id": "abc",
       "entries": [{"node": "hospital-a", "task": "client", "status": "running"}]}


class FakeAPI:
    """Answers by (method, path below /api/v1); records every request."""

    def __init__(self, routes: dict[tuple[str, str], httpx.Response | Callable[[httpx.Request], httpx.Response]]):
        self.routes = routes
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.routes.get((request.method, request.url.path.removeprefix("/api/v1")))
        if answer is None:
            return httpx.Response(404, json={"detail": "Not Found"})
        return answer(request) if callable(answer) else answer

    @property
    def last(self) -> httpx.Request:
        return self.requests[-1]


def _session(routes, **kwargs) -> tuple[Session, FakeAPI]:
    api = FakeAPI(routes)
    return Session(URL, kwargs.pop("api_key", "key"), transport=httpx.MockTransport(api), **kwargs), api


def _query(request: httpx.Request) -> dict[str, list[str]]:
    return parse_qs(request.url.query.decode())


# Connecting


def test_a_bare_host_url_gets_the_api_prefix() -> None:
    assert Session("http://fedpe.test:8000/", "k").url == "http://fedpe.test:8000/api/v1"
    assert Session("http://fedpe.test:8000/api/v1/", "k").url == "http://fedpe.test:8000/api/v1"


def test_the_api_key_is_sent_as_bearer() -> None:
    session, api = _session({("GET", "/hosts"): httpx.Response(200, json=[])}, api_key="secret")

    session.hosts()

    assert api.last.headers["authorization"] == "Bearer secret"
    assert "secret" not in repr(session)


def test_password_login_posts_the_form_grant_then_uses_the_token() -> None:
    # Prepare
    routes = {("POST", "/token"): httpx.Response(200, json={"access_token": "t1", "token_type": "bearer"}),
              ("GET", "/hosts"): httpx.Response(200, json=[])}

    # Execute
    session, api = _session(routes, api_key=None, username="alice", password="pw")
    session.hosts()

    # Assert
    login = api.requests[0]
    assert login.headers["content-type"] == "application/x-www-form-urlencoded"
    assert parse_qs(login.content.decode()) == {"username": ["alice"], "password": ["pw"], "grant_type": ["password"]}
    assert api.last.headers["authorization"] == "Bearer t1"
    assert session.access_token == "t1"


def test_an_expired_token_is_renewed_once() -> None:
    tokens = iter(["old", "new"])

    def hosts(request: httpx.Request) -> httpx.Response:
        if request.headers["authorization"] == "Bearer old":
            return httpx.Response(401, json={"error": {"code": "UNAUTHENTICATED", "message": "expired"}})
        return httpx.Response(200, json=[{"name": "hospital-a"}])

    session, api = _session({("POST", "/token"): lambda r: httpx.Response(200, json={"access_token": next(tokens)}),
                             ("GET", "/hosts"): hosts}, api_key=None, username="alice", password="pw")

    assert [h.name for h in session.hosts()] == ["hospital-a"]
    assert [r.url.path for r in api.requests] == ["/api/v1/token", "/api/v1/hosts", "/api/v1/token", "/api/v1/hosts"]


def test_a_wrong_password_fails_when_the_session_opens() -> None:
    with pytest.raises(AuthenticationError):
        _session({("POST", "/token"): httpx.Response(401, json={"error": {"code": "UNAUTHENTICATED", "message": "no"}})},
                 api_key=None, username="alice", password="bad")


@pytest.mark.parametrize("kwargs", [{"api_key": "k", "username": "u", "password": "p"},
                                    {"api_key": None, "username": "u"},
                                    {"api_key": None, "password": "p"}])
def test_conflicting_credentials_are_refused(kwargs) -> None:
    api_key = kwargs.pop("api_key")
    with pytest.raises(InvalidArgument):
        Session(URL, api_key, **kwargs)


# Hosts and tools


def test_hosts_resources_heartbeat_datasets() -> None:
    # Prepare
    session, api = _session({
        ("GET", "/hosts"): httpx.Response(200, json=[{"name": "hospital-a", "state": "running",
                                                      "last_seen": "2026-01-02T03:04:05Z", "datasets": None,
                                                      "resources": {"cpus": 4}, "zone": "eu"}]),
        ("GET", "/hosts/resources"): httpx.Response(200, json={"hospital-a": {"cpus": 4}}),
        ("GET", "/hosts/heartbeat"): httpx.Response(200, json={"node": "hospital-a", "state": "running"}),
        ("GET", "/hosts/datasets"): httpx.Response(200, json={"hospital-a": [{"name": "digits"}]}),
    })

    # Execute
    hosts = session.hosts()
    resources = session.resources("hospital-a, hospital-b")
    resources_query = _query(api.last)
    heartbeat = session.heartbeat("hospital-a")
    heartbeat_query = _query(api.last)

    # Assert
    assert isinstance(hosts[0], Host) and hosts[0].datasets == [] and hosts[0].zone == "eu"
    assert resources == {"hospital-a": {"cpus": 4}}
    assert resources_query == {"client_nodes": ["hospital-a", "hospital-b"]}
    assert heartbeat["state"] == "running" and heartbeat_query == {"node_name": ["hospital-a"]}
    assert session.datasets() == {"hospital-a": [{"name": "digits"}]}


def test_tools_parse_tasks_and_schema() -> None:
    tool = {"id": "fed-train", "name": "Federated training", "description": "FedAvg and friends", "mode": "federated",
            "tasks": [{"id": "server", "name": "server", "role": "server"}], "parameters": {"type": "object"},
            "single_role": False}
    session, _ = _session({("GET", "/tools"): httpx.Response(200, json=[tool]),
                           ("GET", "/tools/fed-train"): httpx.Response(200, json=tool)})

    assert session.tools()[0].tasks[0].role == "server"
    assert isinstance(session.tool("fed-train"), Tool)


# Submitting


def test_submit_job_sends_hosts_as_query_and_params_as_body() -> None:
    # Prepare
    session, api = _session({("POST", "/tools/job/fed-train"):
                             httpx.Response(200, json={"status": "success", "execution_id": "e1"})})

    # Execute
    job_id = session.submit_job("fed-train", server="hospital-a", clients=["hospital-b", "hospital-c"],
                                params={"rounds": 3, "strategy": {"name": "fedprox"}}, submit_token="tok")

    # Assert
    assert job_id == "e1"
    assert _query(api.last) == {"server_node": ["hospital-a"], "client_nodes": ["hospital-b", "hospital-c"],
                                "submit_token": ["tok"]}
    assert json.loads(api.last.content) == {"rounds": 3, "strategy": {"name": "fedprox"}}


def test_submit_job_leaves_out_what_is_not_given() -> None:
    session, api = _session({("POST", "/tools/job/health-check"):
                             httpx.Response(200, json={"status": "success", "execution_id": "e2"})})

    session.submit_job("health-check", clients="hospital-a")

    assert _query(api.last) == {"client_nodes": ["hospital-a"]}
    assert json.loads(api.last.content) == {}


def test_submit_job_refuses_params_that_are_not_a_dict_before_sending() -> None:
    session, api = _session({})

    with pytest.raises(InvalidArgument):
        session.submit_job("fed-train", params=["rounds", 3])  # type: ignore[arg-type]
    assert api.requests == []


def test_validate_posts_the_whole_submission() -> None:
    session, api = _session({("POST", "/validate"):
                             httpx.Response(200, json={"valid": True, "parameters": {"rounds": 3, "lr": 0.1}})})

    parameters = session.validate("fed-train", server="hospital-a", clients="hospital-b", params={"rounds": 3})

    assert parameters == {"rounds": 3, "lr": 0.1}
    assert json.loads(api.last.content) == {"tool": "fed-train", "server_node": "hospital-a",
                                            "client_nodes": ["hospital-b"], "parameters": {"rounds": 3}}


# Following and acting


def test_list_jobs_filters_and_pages() -> None:
    session, api = _session({("GET", "/executions"):
                             httpx.Response(200, json={"executions": [JOB], "total": 7, "limit": 1, "offset": 2})})

    page = session.list_jobs(status="running", tool="fed-train", limit=1, offset=2)

    assert page.total == 7 and page.executions[0].id == "e1"
    assert _query(api.last) == {"status": ["running"], "tool": ["fed-train"], "limit": ["1"], "offset": ["2"],
                                "sort": ["created_at:desc"]}


def test_get_job_reads_the_execution() -> None:
    session, _ = _session({("GET", "/executions/e1"): httpx.Response(200, json=JOB)})

    job = session.get_job("e1")

    assert isinstance(job, Execution)
    assert (job.status, job.round, job.rounds, job.finished) == ("running", 1, 3, False)
    assert job.entries == [TaskStatus(node="hospital-a", task="client", status="running")]
    assert job.history == [] and job.created.year == 2026


def test_job_status_lists_entries() -> None:
    session, _ = _session({("GET", "/executions/status/e1"): httpx.Response(200, json=JOB["entries"])})

    assert session.job_status("e1")[0].node == "hospital-a"


def test_acting_on_a_job() -> None:
    # Prepare
    session, api = _session({
        ("POST", "/executions/cancel_run/e1"): httpx.Response(200, json={"status": "success", "message": "cancelling"}),
        ("POST", "/executions/e1/control"): httpx.Response(200, json={"status": "success", "message": "paused"}),
        ("POST", "/executions/e1/clone"): httpx.Response(200, json={"status": "success", "execution_id": "e9"}),
        ("PATCH", "/executions/e1"): httpx.Response(200, json={**JOB, "name": "renamed"}),
        ("DELETE", "/executions/e1"): httpx.Response(204),
    })

    # Execute / Assert
    assert session.abort_job("e1")["message"] == "cancelling"
    assert session.control_job("e1", "pause", reason="lunch") == {"status": "success", "message": "paused"}
    assert json.loads(api.last.content) == {"action": "pause", "reason": "lunch"}
    assert session.clone_job("e1") == "e9"
    assert session.rename_job("e1", "renamed")["name"] == "renamed"
    assert json.loads(api.last.content) == {"name": "renamed"}
    assert session.delete_job("e1") is None


def test_an_unknown_control_action_is_refused_before_sending() -> None:
    session, api = _session({})

    with pytest.raises(InvalidArgument) as info:
        session.control_job("e1", "explode")

    assert info.value.field == "action" and api.requests == []


@pytest.mark.parametrize("job_id", ["", "a/b", None])
def test_a_bad_execution_id_is_refused_before_sending(job_id) -> None:
    session, api = _session({})

    with pytest.raises(InvalidArgument):
        session.get_job(job_id)
    assert api.requests == []


# Results


def test_logs_as_text_and_as_records() -> None:
    lines = [{"timestamp": "2026-01-02T03:04:05Z", "level": "INFO", "node": "hospital-a", "message": "round 1"},
             {"timestamp": "2026-01-02T03:04:06Z", "level": "ERROR", "node": "hospital-a", "message": "oops"}]

    def logs(request: httpx.Request) -> httpx.Response:
        if request.url.params.get("format") == "json":
            return httpx.Response(200, text="\n".join(json.dumps(line) for line in lines) + "\n")
        return httpx.Response(200, text="INFO round 1\nERROR oops\n")

    session, api = _session({("GET", "/executions/logs/e1"): logs})

    assert session.get_job_logs("e1", host="hospital-a", level="INFO") == "INFO round 1\nERROR oops\n"
    assert _query(api.last) == {"node": ["hospital-a"], "level": ["INFO"]}
    records = session.log_records("e1", offset=5)
    assert [r.message for r in records] == ["round 1", "oops"]
    assert _query(api.last) == {"offset": ["5"], "format": ["json"]}


def test_report_and_list_files() -> None:
    report = {"tasks": [{"node": "hospital-a", "task": "health", "cpu_seconds": 0.5}], "totals": {"cpu_seconds": 0.5}}
    session, api = _session({
        ("GET", "/executions/report/e1"): httpx.Response(200, json=report),
        ("GET", "/data/list_files"): httpx.Response(200, json={"hospital-a": {"files": ["health.json"]},
                                                                "hospital-b": {"files": []}}),
    })

    assert session.report("e1") == report
    assert session.list_files("e1") == {"hospital-a": ["health.json"], "hospital-b": []}
    session.list_files("e1", host="hospital-a")
    assert _query(api.last) == {"execution_id": ["e1"], "nodes": ["hospital-a"]}


def test_file_sizes_reads_the_sizes_the_api_sends_per_node() -> None:
    session, api = _session({
        ("GET", "/data/list_files"): httpx.Response(200, json={
            "hospital-a": {"files": ["health.json", "sub/model.npz"],
                           "sizes": {"health.json": 17, "sub/model.npz": 2048}},
            "hospital-b": {"files": ["late.json"]},
            "hospital-c": {"files": []}}),
    })

    sizes = session.file_sizes("e1", host="hospital-a")

    assert sizes == {"hospital-a": {"health.json": 17, "sub/model.npz": 2048}, "hospital-b": {"late.json": None},
                     "hospital-c": {}}
    assert _query(api.last) == {"execution_id": ["e1"], "nodes": ["hospital-a"]}


def test_an_invalid_submission_raises_whether_422_or_valid_false() -> None:
    # Prepare
    refused = {"valid": False, "errors": ["client_nodes: hospital-z is not a host"],
               "problems": [{"field": "client_nodes", "code": "HOST_NOT_AVAILABLE",
                             "message": "client_nodes: hospital-z is not a host"}]}
    answers = iter([httpx.Response(200, json=refused),
                    httpx.Response(422, json={"error": {"code": "VALIDATION_ERROR", "message": "rounds: too small",
                                                        "details": {"field": "rounds"}}})])
    session, _ = _session({("POST", "/validate"): lambda request: next(answers)})

    # Execute / Assert
    with pytest.raises(HostNotAvailable) as info:
        session.validate("fed-train", clients="hospital-z")
    assert info.value.field == "client_nodes" and "hospital-z" in info.value.message
    with pytest.raises(InvalidArgument) as info:
        session.validate("fed-train", params={"rounds": 0})
    assert info.value.field == "rounds"


def test_the_apis_longer_execution_field_names_are_read_too() -> None:
    body = {"id": "e1", "execution_id": "e1", "status": "running", "prefect_state": "Running",
            "created_at": "2026-01-02T03:04:05+00:00", "started_at": None, "ended_at": None, "hosts": ["hospital-a"],
            "statuses": [{"node": "hospital-a", "task": "health", "status": "running", "role": "worker"}]}
    session, _ = _session({("GET", "/executions/e1"): httpx.Response(200, json=body)})

    job = session.get_job("e1")

    assert (job.state, job.created.day, job.entries[0].task) == ("Running", 2, "health")
    assert job.hosts == ["hospital-a"]
