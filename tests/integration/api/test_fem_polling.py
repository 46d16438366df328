"""FEM's own client loop, as clients in the field write it: poll the status list from the instant
of submit and stop when no entry reads ``running`` (they never look for ``pending``). It must
never stop before the execution has ended, whatever the tool and however the run ends."""

import time

import pytest
import requests
from federation_helpers import new_user

pytestmark = pytest.mark.integration

POLL_S = 0.2


def fem_session(stack) -> tuple[requests.Session, str]:
    _, key = new_user(stack, "fem-poll")
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {key}"
    return session, f"{stack.config.api_url}/api/v1"


def poll_like_fem(session, base, execution_id, timeout_s=300) -> list[list[dict]]:
    """Every status list seen, first poll at once, until no entry reads running."""
    seen, deadline = [], time.monotonic() + timeout_s
    while True:
        response = session.get(f"{base}/executions/status/{execution_id}")
        assert response.status_code == 200, response.text
        seen.append(response.json())
        if not any(entry["status"] == "running" for entry in seen[-1]):
            return seen
        assert time.monotonic() < deadline, seen[-1]
        time.sleep(POLL_S)


def changes(seen: list[list[dict]]) -> list[list[tuple]]:
    """The distinct lists in the order seen, as (node, task, status, state) rows."""
    rows = [[(e["node"], e["task"], e["status"], e.get("state")) for e in entries] for entries in seen]
    return [r for i, r in enumerate(rows) if i == 0 or r != rows[i - 1]]


def assert_ended_when_fem_stopped(session, base, execution_id, expected: str) -> dict:
    detail = session.get(f"{base}/executions/{execution_id}").json()
    assert detail["status"] == expected, detail
    assert detail["ended_at"], detail
    return detail


def test_a_fem_poller_waits_for_a_whole_flcore_run_and_then_finds_its_files(stack):
    session, base = fem_session(stack)

    submitted = session.post(f"{base}/tools/job/flcore",
                             params={"server_node": "hospital-a", "client_nodes": ["hospital-a", "hospital-b",
                                                                                   "hospital-c"]},
                             json={"dataset": "breast-cancer", "model": "logreg", "rounds": 3})
    assert submitted.status_code == 200, submitted.text
    execution_id = submitted.json()["execution_id"]
    seen = poll_like_fem(session, base, execution_id)

    print(f"\nstatus lists seen by a {POLL_S} s poller over flcore {execution_id} ({len(seen)} polls):")
    for rows in changes(seen):
        print("  ", rows)
    assert any(e["status"] == "running" for e in seen[0])
    assert all(e["status"] == "completed" for e in seen[-1]), seen[-1]
    assert_ended_when_fem_stopped(session, base, execution_id, "completed")
    files = session.get(f"{base}/data/list_files", params={"execution_id": execution_id}).json()
    assert {"metrics.csv", "model_final.npz", "summary.json"} <= set(files["hospital-a"]["files"])
    assert "local_metrics.csv" in files["hospital-b"]["files"] and "local_metrics.csv" in files["hospital-c"]["files"]


def test_a_fem_poller_waits_for_a_health_check_and_a_pipeline(stack):
    session, base = fem_session(stack)
    health = session.post(f"{base}/tools/job/health-check",
                          params={"client_nodes": ["hospital-a", "hospital-b", "hospital-c"]}, json={})
    pipeline = session.post(f"{base}/tools/job/pipeline", json={"steps": [
        {"tool": "health-check", "parameters": {"hosts": ["hospital-b"]}},
        {"tool": "flcore", "parameters": {"server": "hospital-a", "clients": ["hospital-b", "hospital-c"],
                                          "rounds": 2}},
    ]})
    assert health.status_code == pipeline.status_code == 200, (health.text, pipeline.text)

    for submitted, files_of_b in ((health, {"health.json"}), (pipeline, {"health.json", "local_metrics.csv"})):
        execution_id = submitted.json()["execution_id"]
        seen = poll_like_fem(session, base, execution_id)
        assert all(e["status"] == "completed" for e in seen[-1]), seen[-1]
        assert_ended_when_fem_stopped(session, base, execution_id, "completed")
        files = session.get(f"{base}/data/list_files", params={"execution_id": execution_id}).json()
        assert files_of_b <= set(files["hospital-b"]["files"])


def test_a_run_cancelled_before_its_roles_start_reads_cancelled_and_never_finished_early(stack):
    session, base = fem_session(stack)
    submitted = session.post(f"{base}/tools/job/flcore",
                             params={"server_node": "hospital-a", "client_nodes": ["hospital-b", "hospital-c"]},
                             json={"rounds": 50})
    execution_id = submitted.json()["execution_id"]

    first = session.get(f"{base}/executions/status/{execution_id}").json()
    cancel = session.get(f"{base}/executions/cancel_run/{execution_id}")
    seen = poll_like_fem(session, base, execution_id)

    assert cancel.status_code == 200, cancel.text
    assert [e["status"] for e in first] == ["running"] * 3
    assert [e["status"] for e in seen[-1]] == ["cancelled"] * 3, seen[-1]
    assert_ended_when_fem_stopped(session, base, execution_id, "cancelled")


def test_a_run_the_flows_validator_refuses_ends_failed_with_no_entry_running(stack):
    """A run started beside the API (a bare run_deployment) that the flow's own check refuses."""
    from prefect.deployments import run_deployment

    _, key = new_user(stack, "fem-admin", admin=True)
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {key}"
    base = f"{stack.config.api_url}/api/v1"
    flow_run = run_deployment("flcore/default", timeout=0, parameters={
        "server": "hospital-a", "clients": ["hospital-b"], "dataset": "no-such-dataset"})

    seen = poll_like_fem(session, base, str(flow_run.id))

    assert [e["status"] for e in seen[-1]] == ["failed", "failed"], seen[-1]
    detail = assert_ended_when_fem_stopped(session, base, str(flow_run.id), "failed")
    assert "no-such-dataset" in (detail["state_message"] or "")


def test_fem_endpoints_answer_with_a_trailing_slash_and_never_redirect(stack):
    session, base = fem_session(stack)
    for path in ("/tools", "/hosts", "/tasks", "/executions", "/hosts/datasets", "/tools/flcore",
                 "/tasks/flcore-server"):
        plain = session.get(f"{base}{path}", allow_redirects=False)
        slashed = session.get(f"{base}{path}/", allow_redirects=False)
        assert plain.status_code == slashed.status_code == 200, (path, slashed.status_code, slashed.text)
        if path == "/hosts":  # last_seen moves between two reads: compare the hosts
            assert [h["name"] for h in slashed.json()] == [h["name"] for h in plain.json()] != []
        elif path != "/executions":
            assert slashed.json() == plain.json(), path
    submitted = session.post(f"{base}/tools/job/health-check/", params={"client_nodes": ["hospital-a"]}, json={},
                             allow_redirects=False)
    assert submitted.status_code == 200, submitted.text
    poll_like_fem(session, base, submitted.json()["execution_id"])
