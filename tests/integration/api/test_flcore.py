"""FEM's own flow for a federated tool: flcore with a server and two clients, through the API."""

import json
import os
import subprocess
import sys
import time
import uuid

import pytest
import requests

pytestmark = pytest.mark.integration


def test_fem_client_runs_flcore_end_to_end(stack):
    from flows.catalog import tool_ids

    if "flcore" not in tool_ids():
        pytest.skip("flcore is not in flows.catalog yet")
    out = subprocess.run([sys.executable, "-m", "fedpe.cli", "users", "add", f"fl-{uuid.uuid4().hex[:8]}", "--json"],
                         capture_output=True, text=True, timeout=60, check=True,
                         env={**os.environ, "FEDPE_HOME": str(stack.config.home)})
    base = f"{stack.config.api_url}/api/v1"
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {json.loads(out.stdout)['api_key']}"

    submitted = session.post(f"{base}/tools/job//flcore?server_node=hospital-a&client_nodes=hospital-b"
                             f"&client_nodes=hospital-c",
                             json={"dataset": "breast-cancer", "rounds": 2, "model": "logreg",
                                   "strategy": {"name": "fedavg"}})
    assert submitted.status_code == 200, submitted.text
    execution_id = submitted.json()["execution_id"]
    first = session.get(f"{base}/executions/status/{execution_id}").json()
    deadline = time.monotonic() + 300
    while True:
        statuses = session.get(f"{base}/executions/status/{execution_id}").json()
        if not any(s["status"] in ("running", "pending") for s in statuses):
            break
        assert time.monotonic() < deadline, statuses
        time.sleep(0.5)

    assert sorted((e["task"], e["node"]) for e in first) == [
        ("flcore-client", "hospital-b"), ("flcore-client", "hospital-c"), ("flcore-server", "hospital-a")]
    assert all(e["status"] == "completed" for e in statuses), statuses
    detail = session.get(f"{base}/executions/{execution_id}").json()
    assert detail["status"] == "completed"
    assert detail["parameters"]["server"] == "hospital-a"
    assert detail["parameters"]["clients"] == ["hospital-b", "hospital-c"]
    assert detail["round"] == 2 and detail["metrics"]
    report = session.get(f"{base}/executions/report/{execution_id}").json()
    assert {t["node"] for t in report["tasks"]} == {"hospital-a", "hospital-b", "hospital-c"}
    assert all(t["exit_code"] == 0 for t in report["tasks"])
    files = session.get(f"{base}/data/list_files", params={"execution_id": execution_id}).json()
    assert files["hospital-a"]["files"]
    for node, entry in files.items():
        for name in entry["files"]:
            raw = session.get(f"{base}/data/download_files", params={"execution_id": execution_id, "node": node,
                                                                     "file": name})
            assert raw.status_code == 200 and len(raw.content) == entry["sizes"][name]
    both = session.post(f"{base}/tools/job/flcore", params={"server_node": "hospital-a"},
                        json={"server": "hospital-b", "clients": ["hospital-c"]})
    assert both.status_code == 422 and both.json()["error"]["details"]["field"] == "server_node"
