"""Executions through the API: the owner rule, submit tokens, cancel, control, list, rename,
clone, delete, live streams and validation, on the real federation."""

import concurrent.futures
import json
import time
import uuid

import pytest

pytestmark = pytest.mark.integration


def submit(client, hosts=("hospital-a",), **params) -> str:
    response = client.post("/tools/job/health-check", params={"client_nodes": list(hosts), **params}, json={})
    assert response.status_code == 200, response.text
    return response.json()["execution_id"]


def wait_finished(client, execution_id, timeout_s=120) -> list[dict]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        statuses = client.get(f"/executions/status/{execution_id}").json()
        if not any(s["status"] in ("running", "pending") for s in statuses):
            return statuses
        time.sleep(0.3)
    raise AssertionError(f"{execution_id} still unfinished: {statuses}")


@pytest.fixture(scope="module")
def finished(alice):
    """One finished execution of alice's, shared by the read-only tests."""
    execution_id = submit(alice, hosts=("hospital-a", "hospital-b"))
    wait_finished(alice, execution_id)
    return execution_id


def test_only_the_owner_and_admins_read_an_execution_and_its_data(alice, bob, admin, finished):
    reads = [f"/executions/{finished}", f"/executions/status/{finished}", f"/executions/report/{finished}",
             f"/executions/logs/{finished}", f"/data/list_files?execution_id={finished}",
             f"/data/download_files?execution_id={finished}&node=hospital-a&file=health.json",
             f"/data/download_files?execution_id={finished}&node=hospital-a"]
    for path in reads:
        assert alice.get(path).status_code == 200, path
        assert admin.get(path).status_code == 200, path
        refused = bob.get(path)
        assert refused.status_code == 403, path
        assert refused.json()["error"]["code"] == "FORBIDDEN"
    for method, path, body in (("POST", f"/executions/cancel_run/{finished}", None),
                               ("PATCH", f"/executions/{finished}", {"name": "mine now"}),
                               ("DELETE", f"/executions/{finished}", None),
                               ("POST", f"/executions/{finished}/clone", None),
                               ("POST", f"/executions/{finished}/control", {"action": "stop"})):
        assert bob.request(method, path, json=body).status_code == 403, path
    assert finished not in [e["id"] for e in bob.get("/executions").json()["executions"]]
    assert finished in [e["id"] for e in admin.get("/executions", params={"owner": alice.user}).json()["executions"]]
    assert bob.get("/executions", params={"owner": alice.user}).status_code == 403


def test_no_path_escapes_the_execution_folder(alice, finished, stack):
    assert (stack.config.home / "api.db").exists()
    for node, file in (("hospital-a", "../hospital-b/health.json"), ("hospital-a", "/etc/passwd"),
                       ("..", "api.db"), ("hospital-a", "../../../api.db"), ("hospital-a", "..%2F..%2Fapi.db"), ("hospital-a", "a/../../x"),
                       ("hospital-a", "..\\x"), ("hospital-a/..", "health.json")):
        response = alice.get("/data/download_files", params={"execution_id": finished, "node": node, "file": file})
        assert response.status_code in (404, 422), (node, file, response.status_code)
        assert b"SQLite" not in response.content and b"root:" not in response.content
    traversal = alice.get("/data/list_files", params={"execution_id": finished, "nodes": [".."]})
    assert traversal.status_code == 422
    missing = alice.get("/data/download_files", params={"execution_id": finished, "node": "hospital-a", "file": "nope"})
    assert missing.status_code == 404


def test_a_submit_token_gives_one_execution_however_often_it_is_sent(alice, bob):
    token = uuid.uuid4().hex

    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        ids = list(pool.map(lambda _: submit(alice, submit_token=token), range(4)))
    again = submit(alice, submit_token=token)
    other_request = alice.post("/tools/job/health-check", params={"client_nodes": ["hospital-b"], "submit_token": token},
                               json={})
    other_user = submit(bob, submit_token=token)

    assert len(set(ids)) == 1 and again == ids[0]
    assert other_request.status_code == 409 and other_request.json()["error"]["code"] == "CONFLICT"
    assert other_user != ids[0]
    runs = alice.get("/executions", params={"limit": 1000}).json()["executions"]
    assert [r["id"] for r in runs].count(ids[0]) == 1
    wait_finished(alice, ids[0])


def test_cancel_mid_run_leaves_nothing_running(alice):
    execution_id = submit(alice, hosts=("hospital-a", "hospital-b", "hospital-c"))

    cancelled = alice.get(f"/executions/cancel_run/{execution_id}")
    statuses = wait_finished(alice, execution_id, timeout_s=90)

    assert cancelled.status_code == 200 and cancelled.json()["status"] == "success"
    assert all(s["status"] in ("cancelled", "completed") for s in statuses), statuses
    assert alice.get(f"/executions/{execution_id}").json()["status"] in ("cancelled", "completed")
    again = alice.post(f"/executions/cancel_run/{execution_id}")
    assert again.status_code == 200 and "already" in again.json()["message"]


def test_control_actions_reach_a_live_execution_and_refuse_a_finished_one(alice, finished):
    execution_id = submit(alice, hosts=("hospital-c",))

    answers = [alice.post(f"/executions/{execution_id}/control", json={"action": a}) for a in ("pause", "resume")]
    wait_finished(alice, execution_id)
    late = alice.post(f"/executions/{finished}/control", json={"action": "stop"})
    bad = alice.post(f"/executions/{finished}/control", json={"action": "explode"})

    for answer in answers:  # the run may already have ended: then it is a 409, never a 5xx
        assert answer.status_code in (200, 409), answer.text
    assert late.status_code == 409
    assert bad.status_code == 422 and bad.json()["error"]["details"]["field"] == "action"


def test_list_rename_clone_and_delete(alice, stack):
    execution_id = submit(alice, hosts=("hospital-b",))
    wait_finished(alice, execution_id)
    store = stack.config.home / "store" / execution_id
    assert store.exists()

    renamed = alice.patch(f"/executions/{execution_id}", json={"name": "renamed run"})
    listed = alice.get("/executions", params={"tool": "health-check", "status": "completed", "sort": "name:asc"})
    clone = alice.post(f"/executions/{execution_id}/clone")
    deleted = alice.delete(f"/executions/{execution_id}")

    assert renamed.status_code == 200 and renamed.json()["name"] == "renamed run"
    body = listed.json()
    assert body["total"] >= 1 and execution_id in [e["id"] for e in body["executions"]]
    assert all(e["owner"] == alice.user and e["status"] == "completed" for e in body["executions"])
    assert clone.status_code == 200 and clone.json()["cloned_from"] == execution_id
    clone_id = clone.json()["execution_id"]
    assert alice.get(f"/executions/{clone_id}").json()["parameters"] == {"hosts": ["hospital-b"]}
    assert deleted.status_code == 200 and deleted.json()["outputs_removed"] is True
    assert alice.get(f"/executions/{execution_id}").status_code == 404
    assert not store.exists()
    assert alice.get("/executions", params={"sort": "bogus"}).status_code == 422
    wait_finished(alice, clone_id)


def test_server_sent_events_and_websocket_carry_status_logs_and_done(alice, stack):
    from websockets.sync.client import connect

    execution_id = submit(alice, hosts=("hospital-a", "hospital-c"))
    ws_url = f"ws://{stack.config.bind}:{stack.config.api_port}/api/v1/executions/{execution_id}/ws"

    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        def read_ws():
            with connect(f"{ws_url}?access_token={alice.key}", open_timeout=30) as ws:
                return [json.loads(m) for m in ws]
        ws_future = pool.submit(read_ws)
        events = []
        with alice.stream("GET", f"/executions/{execution_id}/stream", timeout=120) as response:
            assert response.headers["content-type"].startswith("text/event-stream")
            event = None
            for line in response.iter_lines():
                if line.startswith("event:"):
                    event = line.split(":", 1)[1].strip()
                elif line.startswith("data:") and event:
                    events.append((event, json.loads(line.split(":", 1)[1])))
                    if event == "done":
                        break
        ws_events = ws_future.result(timeout=120)

    kinds = [e for e, _ in events]
    assert kinds[0] == "status" and kinds[-1] == "done" and "log" in kinds
    assert events[-1][1]["status"] == "completed"
    last_status = [d for e, d in events if e == "status"][-1]
    assert [s["status"] for s in last_status["statuses"]] == ["completed", "completed"]
    assert [m["event"] for m in ws_events][-1] == "done" and "status" in [m["event"] for m in ws_events]
    with pytest.raises(Exception):
        with connect(ws_url, open_timeout=10) as ws:  # no credentials: closed before any event
            ws.recv(timeout=10)


def test_validate_runs_the_submit_checks_without_starting_anything(alice):
    before = alice.get("/queue/status").json()["total"]

    good = alice.post("/validate", json={"tool": "health-check", "client_nodes": ["hospital-a"]})
    everywhere = alice.post("/validate", json={"tool": "health-check"})
    bad_host = alice.post("/validate", json={"tool": "health-check", "parameters": {"hosts": ["nowhere"]}})
    bad_tool = alice.post("/validate", json={"tool": "nope"})

    assert good.json() == {"valid": True, "errors": [], "problems": [], "parameters": {"hosts": ["hospital-a"]}}
    assert everywhere.json()["parameters"]["hosts"] == ["hospital-a", "hospital-b", "hospital-c"]
    assert bad_host.json()["valid"] is False and bad_host.json()["problems"][0]["field"] == "hosts"
    assert bad_tool.json()["valid"] is False and bad_tool.json()["problems"][0]["field"] == "tool"
    assert alice.get("/queue/status").json()["total"] == before


def test_queue_status_counts_every_state(alice, finished):
    queue = alice.get("/queue/status").json()

    assert set(queue) == {"queued", "pending", "running", "completed", "failed", "cancelled", "total", "is_empty"}
    assert queue["completed"] >= 1
    assert queue["total"] == sum(queue[k] for k in ("queued", "pending", "running", "completed", "failed", "cancelled"))
