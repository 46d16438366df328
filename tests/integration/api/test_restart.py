"""The API restarts with nothing lost: users, executions, submit tokens all survive it."""

import json
import os
import signal
import subprocess
import sys
import time
import uuid

import httpx
import psutil
import pytest

pytestmark = pytest.mark.integration


def test_an_api_restart_loses_nothing(stack):
    # Prepare: a user, a finished execution, a submit token
    out = subprocess.run([sys.executable, "-m", "fedpe.cli", "users", "add", f"rs-{uuid.uuid4().hex[:8]}", "--json"],
                         capture_output=True, text=True, timeout=60, check=True,
                         env={**os.environ, "FEDPE_HOME": str(stack.config.home)})
    key = json.loads(out.stdout)["api_key"]
    base = f"{stack.config.api_url}/api/v1"
    client = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=60)
    token = uuid.uuid4().hex
    execution_id = client.post("/tools/job/health-check", params={"client_nodes": ["hospital-a"], "submit_token": token},
                               json={}).json()["execution_id"]
    deadline = time.monotonic() + 120
    while any(s["status"] in ("pending", "running") for s in client.get(f"/executions/status/{execution_id}").json()):
        assert time.monotonic() < deadline
        time.sleep(0.3)
    before = client.get(f"/executions/{execution_id}").json()

    # Execute: kill the API, start it again with the same command and environment on the same port
    child = next(c for c in stack.children if c.name == "api")
    process = psutil.Process(child.pid)
    argv, env = process.cmdline(), process.environ()
    os.killpg(child.pid, signal.SIGKILL)
    process.wait(10)
    with open(child.log, "ab") as log:
        new = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    child.pid = new.pid
    stack.save()  # `fedpe down` (the fixture's teardown) stops the new process
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{base}/health/live").status_code == 200:
                break
        except httpx.HTTPError:
            pass
        assert new.poll() is None and time.monotonic() < deadline, "the API did not come back"
        time.sleep(0.2)

    # Assert
    after = client.get(f"/executions/{execution_id}")
    assert after.status_code == 200
    assert {k: after.json()[k] for k in ("status", "owner", "parameters", "statuses")} == {
        k: before[k] for k in ("status", "owner", "parameters", "statuses")}
    assert client.get("/data/list_files", params={"execution_id": execution_id}).json()["hospital-a"]["files"]
    same = client.post("/tools/job/health-check", params={"client_nodes": ["hospital-a"], "submit_token": token},
                       json={}).json()
    assert same["execution_id"] == execution_id
