"""A training through the API as a researcher follows it: pause and resume between rounds, one
stream event per round, per-round log lines, results and reasons in the execution view, its
checkpoints for the owner only, and deletion that takes the MLflow run and model versions along."""

import json
import time

import pytest

pytestmark = pytest.mark.integration

SLOW_ROUNDS = {"dataset": "digits", "model": "mlp", "local_epochs": 3, "batch_size": 4, "learning_rate": 0.02,
               "round_timeout_s": 20}


def train(client, **params) -> str:
    body = {"strategy": {"name": "fedavg"}, "model": "logreg", **params}
    response = client.post("/tools/job/flcore", params={"server_node": "hospital-a",
                                                        "client_nodes": ["hospital-b", "hospital-c"]}, json=body)
    assert response.status_code == 200, response.text
    return response.json()["execution_id"]


def wait_until(predicate, timeout_s=120, what="condition"):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"{what} not reached in {timeout_s} s")


def finished(client, execution_id, timeout_s=240) -> dict:
    return wait_until(lambda: (d := client.get(f"/executions/{execution_id}").json())["status"]
                      not in ("pending", "running") and d, timeout_s, f"{execution_id} finished")


@pytest.fixture(scope="module")
def short_training(alice):
    """A finished 3-round training of alice's."""
    execution_id = train(alice, rounds=3, dataset="breast-cancer")
    finished(alice, execution_id)
    return execution_id


def test_a_pause_holds_the_rounds_reports_the_last_one_and_says_paused(alice):
    # Prepare
    execution_id = train(alice, rounds=1000, **SLOW_ROUNDS)
    wait_until(lambda: (alice.get(f"/executions/{execution_id}").json().get("round") or 0) >= 2, what="round 2")

    # Execute
    paused = alice.post(f"/executions/{execution_id}/control", json={"action": "pause"})
    view = wait_until(lambda: (d := alice.get(f"/executions/{execution_id}").json())["paused"] and d,
                      what="paused in the view")
    time.sleep(2.5)  # two more rounds' worth of time: none may start while paused
    held = alice.get(f"/executions/{execution_id}").json()
    resumed = alice.post(f"/executions/{execution_id}/control", json={"action": "resume"})
    wait_until(lambda: (alice.get(f"/executions/{execution_id}").json().get("round") or 0) > held["round"],
               what="a round after resume")
    stopped = alice.post(f"/executions/{execution_id}/control", json={"action": "stop"})
    done = finished(alice, execution_id)

    # Assert: the round that ended at the pause is reported during the pause, not after it
    assert paused.status_code == 200 and resumed.status_code == 200 and stopped.status_code == 200
    assert view["status"] == "running" and view["paused"] is True
    assert held["round"] == view["round"] and held["paused"] is True
    assert [h["round"] for h in held["history"]] == list(range(1, held["round"] + 1))
    assert done["status"] == "completed" and done["paused"] is False
    assert done["stopped_because"] == "stopped"
    assert done["result"]["final_metrics"]["accuracy"] > 0.5
    assert done["round"] < 1000


def test_the_stream_sends_one_round_event_per_round_in_order(alice):
    execution_id = train(alice, rounds=12, dataset="breast-cancer")
    rounds = []
    with alice.stream("GET", f"/executions/{execution_id}/stream", timeout=180) as response:
        event = None
        for line in response.iter_lines():
            if line.startswith("event:"):
                event = line.split(":", 1)[1].strip()
            elif line.startswith("data:") and event == "round":
                rounds.append(json.loads(line.split(":", 1)[1]))
            elif line.startswith("data:") and event == "done":
                break

    assert [r["round"] for r in rounds] == list(range(1, 13))
    assert all(r["rounds"] == 12 and 0 <= r["metrics"]["accuracy"] <= 1 for r in rounds)
    assert all("ended_at" not in r["metrics"] for r in rounds)
    assert rounds[0]["clients"] == ["hospital-b", "hospital-c"]


def test_logs_say_what_each_round_did(alice, short_training):
    lines = wait_until(lambda: [json.loads(x) for x in alice.get(
        f"/executions/logs/{short_training}", params={"format": "json", "node": "hospital-a"}).text.splitlines()
        if "round " in x] or None, timeout_s=30, what="round log lines")

    messages = [line["message"] for line in lines]
    assert any(m.startswith("round 3/3: accuracy") for m in messages), messages
    assert all(line["task"] == "flcore-server" for line in lines)


def test_the_list_shows_rounds_and_the_view_shows_the_result(alice, short_training):
    listed = alice.get("/executions", params={"tool": "flcore", "limit": 100}).json()["executions"]
    row = next(e for e in listed if e["id"] == short_training)
    view = alice.get(f"/executions/{short_training}").json()

    assert (row["round"], row["rounds"]) == (3, 3)
    assert view["result"]["status"] == "completed" and view["stopped_because"] is None
    assert "history" not in view["result"] and len(view["history"]) == 3


def test_only_the_owner_may_start_from_an_executions_checkpoint(alice, bob, short_training, stack):
    checkpoint = f"{short_training}/hospital-a/checkpoints/round-0002.npz"

    own = alice.post("/validate", json={"tool": "flcore", "server_node": "hospital-a",
                                        "client_nodes": ["hospital-b"], "parameters": {"initial_weights": checkpoint,
                                                                                      "model": "logreg"}})
    theirs = bob.post("/tools/job/flcore", params={"server_node": "hospital-a", "client_nodes": ["hospital-b"]},
                      json={"initial_weights": checkpoint, "model": "logreg"})
    outside = alice.post("/tools/job/flcore", params={"server_node": "hospital-a", "client_nodes": ["hospital-b"]},
                         json={"initial_weights": "file:///etc/passwd", "model": "logreg"})
    missing = alice.post("/tools/job/flcore", params={"server_node": "hospital-a", "client_nodes": ["hospital-b"]},
                         json={"initial_weights": f"{short_training}/hospital-a/checkpoints/round-0099.npz",
                               "model": "logreg"})

    assert own.json()["valid"] is True, own.text
    assert theirs.status_code == 403 and theirs.json()["error"]["details"]["field"] == "initial_weights"
    assert outside.status_code == 422 and "not inside the store" in outside.json()["error"]["message"]
    assert missing.status_code == 422 and "round-0099.npz" in missing.json()["error"]["message"]


def test_a_pipeline_runs_each_tool_once_and_refuses_an_empty_list(alice):
    twice = alice.post("/tools/job/pipeline", json={"steps": [
        {"tool": "flcore", "parameters": {"server": "hospital-a", "clients": ["hospital-b"], "rounds": 2}},
        {"tool": "flcore", "parameters": {"server": "hospital-a", "clients": ["hospital-b"], "rounds": 2}}]})
    empty = alice.post("/tools/job/pipeline", json={"steps": []})

    assert twice.status_code == 422 and twice.json()["error"]["details"]["field"] == "steps.1.tool"
    assert empty.status_code == 422 and empty.json()["error"]["details"]["field"].startswith("steps")


def test_a_strategy_error_names_the_option_or_the_known_names(alice):
    hosts = {"server_node": "hospital-a", "client_nodes": ["hospital-b", "hospital-c"]}
    cases = {"strategy.mu": {"name": "fedprox", "mu": -1}, "strategy.name": {"name": "fedfoo"}}
    for field, strategy in cases.items():
        response = alice.post("/tools/job/flcore", params=hosts, json={"strategy": strategy, "model": "logreg"})
        assert response.status_code == 422 and response.json()["error"]["details"]["field"] == field, response.text
    assert "fedprox" in alice.post("/tools/job/flcore", params=hosts,
                                   json={"strategy": {"name": "fedfoo"}}).json()["error"]["message"]


def test_fed_stats_refuses_an_unknown_column_before_anything_starts(alice):
    before = alice.get("/queue/status").json()["total"]
    response = alice.post("/tools/job/fed-stats", json={"columns": ["nosuch"]})

    assert response.status_code == 422 and response.json()["error"]["details"]["field"] == "columns"
    assert "'nosuch'" in response.json()["error"]["message"]
    assert alice.get("/queue/status").json()["total"] == before


def test_deleting_a_training_deletes_its_mlflow_run_and_model_versions(alice, stack):
    from mlflow.tracking import MlflowClient

    execution_id = train(alice, rounds=2, dataset="breast-cancer")
    run_id = finished(alice, execution_id)["mlflow_run_id"]
    mlflow = MlflowClient(tracking_uri=stack.config.mlflow_uri)
    assert mlflow.search_model_versions(f"run_id='{run_id}'")

    deleted = alice.delete(f"/executions/{execution_id}")

    assert deleted.status_code == 200 and deleted.json()["mlflow_run_deleted"] is True
    assert mlflow.get_run(run_id).info.lifecycle_stage == "deleted"
    assert not mlflow.search_model_versions(f"run_id='{run_id}'")
