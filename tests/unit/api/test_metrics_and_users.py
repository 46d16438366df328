"""GET /executions/{id}/metrics (JSON and CSV: MLflow's numbers from the stored rounds), the
execution's links, and the admin user endpoints."""

from __future__ import annotations

import csv
import io
import json
import math

import pytest
from fastapi.testclient import TestClient

from tasks.rounds import RoundRecord, flat_metrics, read_rounds, write_round


def tracked_metrics(entry: dict) -> dict:
    """What the reporter logs to MLflow for a round (tasks/coordinator/reporter.py)."""
    return flat_metrics(RoundRecord.from_entry(entry))


@pytest.fixture
def api(app, federation):
    def client(name: str, *, admin: bool = False) -> TestClient:
        key = federation.user(name, admin=admin) if federation.state.users.get(name) is None else None
        return TestClient(app, headers={"Authorization": f"Bearer {key}"})
    return client


def test_metrics_has_one_row_per_round_with_the_numbers_mlflow_got(api, federation):
    execution_id = federation.training("alice", history=3, dropped={2: ["hospital-c"]})
    history = read_rounds(federation.store, execution_id)

    body = api("alice").get(f"/api/v1/executions/{execution_id}/metrics").json()

    assert (body["round"], body["rounds"], body["status"]) == (3, 5, "running")
    assert [r["round"] for r in body["rows"]] == [1, 2, 3]
    for row, entry in zip(body["rows"], history):
        flat = dict(row["metrics"])
        flat.update({f"client.{h}.{k}": v for h, m in row["per_client"].items() for k, v in m.items()})
        assert flat == tracked_metrics(entry)  # what reporter logs to MLflow at step = round
        assert "ended_at" not in row["metrics"] and row["clients"] == entry["clients"]
    assert body["rows"][1]["dropped"] == ["hospital-c"] and "hospital-c" not in body["rows"][1]["per_client"]


def test_metrics_as_csv_has_mlflows_names_as_columns(api, federation):
    execution_id = federation.training("alice", history=2, dropped={2: ["hospital-b"]})

    response = api("alice").get(f"/api/v1/executions/{execution_id}/metrics", params={"format": "csv"})
    rows = list(csv.DictReader(io.StringIO(response.text)))

    assert response.headers["content-type"].startswith("text/csv")
    assert f'filename="{execution_id}-metrics.csv"' in response.headers["content-disposition"]
    assert list(rows[0])[:3] == ["round", "loss", "accuracy"] and list(rows[0])[-2:] == ["clients", "dropped"]
    assert "client.hospital-a.accuracy" in rows[0] and rows[1]["dropped"] == "hospital-b"
    assert rows[1]["client.hospital-b.loss"] == "" and rows[0]["clients"] == "hospital-a;hospital-b;hospital-c"
    assert float(rows[0]["loss"]) == pytest.approx(0.65)


def test_metrics_of_a_diverged_round_read_null_not_an_error(api, federation):
    execution_id = federation.training("alice")
    write_round(federation.store, execution_id, {"round": 1, "loss": math.nan, "accuracy": 0.5, "clients": ["a"],
                                                 "per_client": {"a": {"loss": math.inf}}})

    response = api("alice").get(f"/api/v1/executions/{execution_id}/metrics")

    assert response.status_code == 200
    assert response.json()["rows"][0]["metrics"] == {"loss": None, "accuracy": 0.5}
    assert response.json()["rows"][0]["per_client"] == {"a": {"loss": None}}


def test_metrics_before_the_first_round_and_for_others(api, federation):
    fresh = federation.training("alice", history=0)
    alice, bob = api("alice"), api("bob")

    assert alice.get(f"/api/v1/executions/{fresh}/metrics").json()["rows"] == []
    assert bob.get(f"/api/v1/executions/{fresh}/metrics").status_code == 403
    assert alice.get(f"/api/v1/executions/{fresh}/metrics", params={"format": "xml"}).json()["error"]["details"][
        "field"] == "format"
    assert alice.get("/api/v1/executions/not-an-id/metrics").status_code == 404


def test_the_execution_view_links_its_prefect_flow_run_and_mlflow_run(api, federation):
    execution_id = federation.training("alice")

    links = api("alice").get(f"/api/v1/executions/{execution_id}").json()["links"]

    assert links == {"prefect_flow_run": f"http://prefect.test/runs/flow-run/{execution_id}",
                     "mlflow_run": "http://mlflow.test/#/runs/0123456789abcdef"}


def test_admins_list_add_revoke_and_rotate_users(api, federation):
    admin = api("root", admin=True)

    added = admin.post("/api/v1/users", json={"name": "gina", "password": "gina-password"})
    listed = admin.get("/api/v1/users").json()
    rotated = admin.post("/api/v1/users/gina/key")
    revoked = admin.post("/api/v1/users/gina/revoke")

    assert added.status_code == 201 and added.json()["api_key"].startswith("fpk_")
    assert added.json()["user"] == {"name": "gina", "admin": False, "password_set": True, "active": True,
                                    "created_at": added.json()["user"]["created_at"], "revoked_at": None}
    assert {u["name"] for u in listed} == {"root", "gina"} and all("hash" not in json.dumps(u) for u in listed)
    assert rotated.json()["api_key"] != added.json()["api_key"]
    assert revoked.json()["active"] is False and admin.get("/api/v1/users/gina").json()["active"] is False


def test_user_endpoints_refuse_bad_input_and_non_admins(api):
    admin, alice = api("root", admin=True), api("alice")

    assert alice.get("/api/v1/users").status_code == 403
    assert alice.post("/api/v1/users", json={"name": "x"}).status_code == 403
    bad = admin.post("/api/v1/users", json={"name": "bad name!"})
    short = admin.post("/api/v1/users", json={"name": "hank", "password": "short"})
    stray = admin.post("/api/v1/users", json={"name": "hank", "role": "admin"})
    assert bad.status_code == 422 and bad.json()["error"]["details"]["field"] == "name"
    assert short.status_code == 422 and short.json()["error"]["details"]["field"] == "password"
    assert stray.status_code == 422 and stray.json()["error"]["details"]["field"] == "role"
    assert admin.post("/api/v1/users", json={"name": "alice"}).status_code == 409
    assert admin.post("/api/v1/users/root/revoke").status_code == 409
    assert admin.post("/api/v1/users/nobody/key").status_code == 404


def test_csv_cells_a_spreadsheet_would_run_are_escaped():
    from fedpe.api.services.executions import metrics_csv

    rows = [{"round": 1, "metrics": {"accuracy": 0.5, "=HYPERLINK(\"x\")": 1.0, "loss": -0.25},
             "per_client": {"@evil": {"loss": 0.1}}, "clients": ["+a", "b"], "dropped": ["-c"]}]

    parsed = list(csv.reader(io.StringIO(metrics_csv(rows))))

    assert parsed[0] == ["round", "accuracy", "'=HYPERLINK(\"x\")", "loss", "client.@evil.loss", "clients", "dropped"]
    assert parsed[1][3] == "-0.25"  # a negative number stays a number
    assert parsed[1][-2:] == ["'+a;b", "'-c"]
