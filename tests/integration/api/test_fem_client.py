"""A FEM client, written with `requests` as FEM users write theirs, against fedpe unchanged:
token, heartbeat, submit, poll the status list, list and download the outputs."""

import io
import json
import os
import subprocess
import sys
import time
import uuid
import zipfile

import pytest
import requests

pytestmark = pytest.mark.integration

FINISHED = ("completed", "failed", "cancelled")


def add_user(stack, *, admin=False, password=None) -> dict:
    name = f"fem-{uuid.uuid4().hex[:8]}"
    argv = [sys.executable, "-m", "fedpe.cli", "users", "add", name, "--json"] + (["--admin"] if admin else [])
    argv += ["--password-stdin"] if password else []
    out = subprocess.run(argv, input=(password or "") + "\n", capture_output=True, text=True, timeout=60, check=True,
                         env={**os.environ, "FEDPE_HOME": str(stack.config.home)})
    return json.loads(out.stdout)


def wait_until_finished(session, base, execution_id, timeout_s=120):
    """FEM's client loop: finished when no entry is running or pending."""
    deadline = time.monotonic() + timeout_s
    seen = []
    while time.monotonic() < deadline:
        statuses = session.get(f"{base}/executions/status/{execution_id}").json()
        seen.append(statuses)
        if statuses and not any(s["status"] in ("running", "pending") for s in statuses):
            return statuses, seen
        time.sleep(0.3)
    raise AssertionError(f"execution {execution_id} not finished after {timeout_s} s: {seen[-1]}")


def test_fem_client_runs_a_health_check_and_downloads_its_outputs(stack):
    # Prepare: FEM's Authorize flow, then its calls, with requests
    user = add_user(stack, password="fem-password")
    base = f"{stack.config.api_url}/api/v1"
    token = requests.post(f"{base}/token", data={"username": user["name"], "password": "fem-password",
                                                  "grant_type": "password"}).json()["access_token"]
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token}"
    beat = session.get(f"{base}/hosts/heartbeat", params={"node_name": "hospital-b"}).json()
    assert beat["node"] == "hospital-b" and beat["state"] == "running" and beat["last_seen"]

    # Execute: FEM's doubled slash, server_node + client_nodes in the query
    submitted = session.post(f"{base}/tools/job//health-check",
                             params={"server_node": "hospital-a", "client_nodes": ["hospital-b", "hospital-c"]},
                             json={})
    assert submitted.status_code == 200, submitted.text
    assert submitted.json()["status"] == "success"
    execution_id = submitted.json()["execution_id"]
    first = session.get(f"{base}/executions/status/{execution_id}").json()
    final, seen = wait_until_finished(session, base, execution_id)

    # Assert: every host's entry from submit; nothing read finished while the flow still ran
    assert sorted(e["node"] for e in first) == ["hospital-a", "hospital-b", "hospital-c"]
    assert {e["task"] for e in first} == {"health-check"}
    assert [e["status"] for e in final] == ["completed"] * 3
    detail = session.get(f"{base}/executions/{execution_id}").json()
    assert detail["status"] == "completed" and detail["owner"] == user["name"]
    assert detail["parameters"] == {"hosts": ["hospital-a", "hospital-b", "hospital-c"]}
    assert detail["ended_at"] and detail["tool"] == "health-check"
    listing = session.get(f"{base}/data/list_files", params={"execution_id": execution_id}).json()
    assert sorted(listing) == ["hospital-a", "hospital-b", "hospital-c"]
    for node, entry in listing.items():
        assert entry["files"] == ["health.json"]
        for name in entry["files"]:
            raw = session.get(f"{base}/data/download_files",
                              params={"execution_id": execution_id, "node": node, "file": name})
            assert raw.status_code == 200
            assert json.loads(raw.content)["host"] == node
        archive = session.get(f"{base}/data/download_files", params={"execution_id": execution_id, "node": node})
        assert archive.headers["content-type"] == "application/zip"
        with zipfile.ZipFile(io.BytesIO(archive.content)) as zf:
            assert zf.namelist() == ["health.json"]
            assert json.loads(zf.read("health.json"))["host"] == node
    only_b = session.get(f"{base}/data/list_files", params={"execution_id": execution_id, "nodes": ["hospital-b"]})
    assert list(only_b.json()) == ["hospital-b"]


def test_report_and_logs_of_a_finished_execution(stack):
    user = add_user(stack)
    base = f"{stack.config.api_url}/api/v1"
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {user['api_key']}"
    execution_id = session.post(f"{base}/tools/job/health-check", params={"client_nodes": ["hospital-a", "hospital-c"]},
                                json={}).json()["execution_id"]
    wait_until_finished(session, base, execution_id)

    report = session.get(f"{base}/executions/report/{execution_id}").json()
    deadline = time.monotonic() + 30
    while True:  # hosts and the flow send their log lines to Prefect in batches: they may land after the end
        lines = session.get(f"{base}/executions/logs/{execution_id}", params={"format": "json"}).text.splitlines()
        if {json.loads(x)["node"] for x in lines} >= {None, "hospital-a", "hospital-c"} or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    text = session.get(f"{base}/executions/logs/{execution_id}")
    node_c = session.get(f"{base}/executions/logs/{execution_id}", params={"format": "json", "node": "hospital-c"})
    errors = session.get(f"{base}/executions/logs/{execution_id}", params={"format": "json", "level": "ERROR"})
    page = session.get(f"{base}/executions/logs/{execution_id}", params={"format": "json", "offset": 1, "limit": 1})

    assert report["exit_code"] == 0 and report["elapsed_s"] > 0
    assert sorted(t["node"] for t in report["tasks"]) == ["hospital-a", "hospital-c"]
    for task in report["tasks"]:
        assert task["exit_code"] == 0 and task["start_time"] and task["end_time"] and task["elapsed_s"] >= 0
    assert report["totals"]["tasks"] == 2
    assert text.headers["content-type"].startswith("text/plain") and "Finished in state" in text.text
    records = [json.loads(line) for line in lines]
    assert {"timestamp", "level", "node", "task", "message"} <= set(records[0])
    assert {r["node"] for r in records} >= {None, "hospital-a", "hospital-c"}
    assert node_c.text and {json.loads(x)["node"] for x in node_c.text.splitlines()} == {"hospital-c"}
    assert errors.text == ""
    assert [json.loads(x) for x in page.text.splitlines()] == records[1:2]


def test_fem_errors_name_the_field(stack):
    user = add_user(stack)
    base = f"{stack.config.api_url}/api/v1"
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {user['api_key']}"

    both = session.post(f"{base}/tools/job/health-check", params={"client_nodes": ["hospital-a"]},
                        json={"hosts": ["hospital-b"]})
    unknown_host = session.post(f"{base}/tools/job/health-check", params={"client_nodes": ["hospital-zz"]}, json={})
    wrong_type = session.post(f"{base}/tools/job/health-check", json={"hosts": "hospital-a"})
    unknown_param = session.post(f"{base}/tools/job/health-check", json={"rounds": 3})
    unknown_tool = session.post(f"{base}/tools/job/no-such-tool", json={})
    not_json = session.post(f"{base}/tools/job/health-check", data="{", headers={"content-type": "application/json"})
    unknown_id = session.get(f"{base}/executions/status/{uuid.uuid4()}")
    not_an_id = session.get(f"{base}/executions/status/not-an-id")

    assert both.status_code == 422 and both.json()["error"]["details"]["field"] == "client_nodes"
    assert unknown_host.status_code == 422
    assert unknown_host.json()["error"]["code"] == "HOST_NOT_AVAILABLE"
    assert "hospital-zz" in unknown_host.json()["error"]["message"]
    assert wrong_type.status_code == 422 and wrong_type.json()["error"]["details"]["field"] == "hosts"
    assert unknown_param.status_code == 422 and unknown_param.json()["error"]["details"]["field"] == "rounds"
    assert unknown_tool.status_code == 404 and unknown_tool.json()["error"]["code"] == "NOT_FOUND"
    assert not_json.status_code == 422 and not_json.json()["error"]["code"] == "VALIDATION_ERROR"
    assert unknown_id.status_code == not_an_id.status_code == 404
    assert unknown_id.json()["error"]["code"] == "EXECUTION_NOT_FOUND"
    assert not_json.json()["error"]["details"]["field"] == "body"
    heartbeat = session.get(f"{base}/hosts/heartbeat", params={"node_name": "hospital-zz"})
    assert heartbeat.status_code == 404 and heartbeat.json()["error"]["details"]["field"] == "node_name"
    stray = session.post(f"{base}/validate", json={"tool": "flcore", "server": "hospital-a"})
    assert stray.status_code == 422 and stray.json()["error"]["details"]["field"] == "server"


def test_fem_takes_client_nodes_repeated_or_comma_separated_and_lists_only_the_executions_hosts(stack):
    user = add_user(stack)
    base = f"{stack.config.api_url}/api/v1"
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {user['api_key']}"

    submitted = session.post(f"{base}/tools/job/health-check", params={"client_nodes": "hospital-a,hospital-b"},
                             json={})
    execution_id = submitted.json()["execution_id"]
    wait_until_finished(session, base, execution_id)
    stranger = session.get(f"{base}/data/list_files", params={"execution_id": execution_id, "nodes": ["hospital-c"]})
    late_abort = session.post(f"{base}/executions/{execution_id}/control", json={"action": "abort"})

    assert submitted.status_code == 200, submitted.text
    assert sorted(e["node"] for e in session.get(f"{base}/executions/status/{execution_id}").json()) == [
        "hospital-a", "hospital-b"]
    assert stranger.status_code == 404 and "hospital-a, hospital-b" in stranger.json()["error"]["message"]
    assert late_abort.status_code == 409
