"""The audit anchors of an execution (the heads of the hosts' audit logs the coordinator kept in
`{execution}/_audit/`): GET /api/v1/executions/{id}/audit under the execution's read rule, the
execution page's card with the host operator's command, and malformed store files skipped with a
log line. The metric chooser over the round curves is rendered with the rounds' metrics."""

from __future__ import annotations

import hashlib
import json
import logging
import re
import uuid

import pytest
from fastapi.testclient import TestClient

from fedpe.api.services.outputs import audit_anchor
from tasks.conventions import AUDIT_DIR
from tasks.coordinator.remote import Relay
from tasks.rounds import write_round


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@pytest.fixture
def api(app, federation):
    def client(name: str, *, admin: bool = False) -> TestClient:
        key = federation.user(name, admin=admin)
        return TestClient(app, headers={"Authorization": f"Bearer {key}"})
    return client


def _anchored(federation, owner: str = "alice") -> tuple[str, dict]:
    """A finished training whose roles' heads the coordinator recorded as it does (Relay)."""
    execution_id = federation.training(owner, history=2, state_type="COMPLETED")
    heads = {("hospital-a", "flcore-server"): {"seq": 41, "hash": _digest("a")},
             ("hospital-b", "flcore-client"): {"seq": 7, "hash": _digest("b")},
             ("hospital-c", "flcore-client"): {"seq": 12, "hash": _digest("c")}}
    for (host, task), head in heads.items():
        Relay(federation.store, execution_id, host).write_audit_head(task, head)
    return execution_id, heads


def test_the_api_lists_one_anchor_per_host_role_as_the_coordinator_stored_it(api, federation):
    execution_id, heads = _anchored(federation)

    body = api("alice").get(f"/api/v1/executions/{execution_id}/audit").json()

    assert [(a["host"], a["task"]) for a in body] == sorted(heads)
    for anchor in body:
        head = heads[(anchor["host"], anchor["task"])]
        stored = json.loads(federation.store.read_bytes(execution_id, AUDIT_DIR,
                                                        f"{anchor['host']}.{anchor['task']}.json"))
        assert anchor == {**head, "host": anchor["host"], "task": anchor["task"],
                          "expect": f"{head['seq']}:{head['hash']}"}
        assert anchor == stored


def test_only_the_owner_and_admins_read_the_anchors_and_an_unknown_execution_is_the_usual_404(api, federation):
    execution_id, _ = _anchored(federation)
    bob, admin = api("bob"), api("root", admin=True)
    unknown = str(uuid.uuid4())

    refused = bob.get(f"/api/v1/executions/{execution_id}/audit")

    assert refused.status_code == 403 and refused.json()["error"]["code"] == "FORBIDDEN"
    assert len(admin.get(f"/api/v1/executions/{execution_id}/audit").json()) == 3
    for missing in (unknown, "not-an-id"):
        audit = admin.get(f"/api/v1/executions/{missing}/audit")
        metrics = admin.get(f"/api/v1/executions/{missing}/metrics")
        assert audit.status_code == metrics.status_code == 404
        assert audit.json() == metrics.json()


def test_an_execution_without_anchors_lists_none(api, federation):
    execution_id = federation.training("alice")

    response = api("alice").get(f"/api/v1/executions/{execution_id}/audit")

    assert response.status_code == 200 and response.json() == []


def test_a_malformed_file_in_the_store_is_skipped_and_logged_not_a_500(api, federation, caplog):
    execution_id, heads = _anchored(federation)
    good = json.loads(federation.store.read_bytes(execution_id, AUDIT_DIR, "hospital-a.flcore-server.json"))
    bad = {
        "garbage.json": b"{not json",
        "binary.json": b"\xff\xfe\x00",
        "deep.json": b"[" * 3000 + b"]" * 3000,
        "list.json": b"[1, 2]",
        "hospital-x.flcore-client.json": json.dumps({**good, "host": "hospital-x", "task": "flcore-client",
                                                     "seq": "41"}).encode(),
        "hospital-y.flcore-client.json": json.dumps({**good, "host": "hospital-y", "task": "flcore-client",
                                                     "hash": "z" * 64, "expect": f"41:{'z' * 64}"}).encode(),
        "hospital-z.flcore-client.json": json.dumps({**good, "host": "hospital-z", "task": "flcore-client",
                                                     "expect": f"40:{good['hash']}"}).encode(),
        "renamed.json": json.dumps(good).encode(),  # a head under another host's name
        "huge.json": json.dumps({**good, "padding": "x" * 10_000}).encode(),
    }
    for name, data in bad.items():
        federation.store.write_bytes(data, execution_id, AUDIT_DIR, name)

    with caplog.at_level(logging.WARNING, logger="fedpe.api.outputs"):
        response = api("alice").get(f"/api/v1/executions/{execution_id}/audit")

    assert response.status_code == 200
    assert [(a["host"], a["task"]) for a in response.json()] == sorted(heads)
    skipped = {re.search(r"_audit/(\S+),", r.getMessage())[1] for r in caplog.records}
    assert skipped == set(bad)


def test_audit_anchor_takes_only_what_the_coordinator_writes():
    digest = _digest("x")
    head = {"host": "h", "task": "t", "seq": 3, "hash": digest, "expect": f"3:{digest}"}

    assert audit_anchor("h.t.json", head) == head
    assert audit_anchor("h.t.json", {**head, "extra": 1}) == head  # more fields: the same anchor
    assert audit_anchor("other.t.json", head) is None
    assert audit_anchor("h.t.json", {**head, "seq": True}) is None
    assert audit_anchor("h.t.json", {**head, "seq": -3, "expect": f"-3:{digest}"}) is None
    assert audit_anchor("h.t.json", {**head, "hash": digest.upper(), "expect": f"3:{digest.upper()}"}) is None
    assert audit_anchor("h.t.json", {k: v for k, v in head.items() if k != "expect"}) is None
    assert audit_anchor("h.t.json", None) is None


def test_the_page_shows_each_anchor_with_the_command_that_checks_it(browser_for, federation):
    execution_id, heads = _anchored(federation)
    alice = browser_for("alice")

    page = alice.get(f"/executions/{execution_id}").text
    region = alice.get(f"/executions/{execution_id}/audit").text

    assert 'id="audit"' in page and "Audit anchors" in page
    for (host, task), head in heads.items():
        row = re.search(rf'<tr data-host="{host}" data-task="{task}" data-seq="(\d+)" data-hash="([0-9a-f]+)">'
                        r"(.*?)</tr>", page, re.S)
        assert row and (int(row[1]), row[2]) == (head["seq"], head["hash"])
        assert f'<code title="{head["hash"]}">{head["hash"][:12]}…</code>' in row[3]
        assert (f"fedpe host audit --data-dir DIR --verify --expect {head['seq']}:{head['hash']}") in row[3]
        assert f'data-seq="{head["seq"]}" data-hash="{head["hash"]}"' in region
    assert region.startswith('<div id="audit" hx-get="/executions/')


def test_the_page_says_when_no_anchor_is_recorded_yet_and_hides_the_card_from_others(browser_for, federation):
    execution_id = federation.training("alice")
    alice, bob = browser_for("alice"), browser_for("bob")

    assert "No audit anchors yet" in alice.get(f"/executions/{execution_id}").text
    assert bob.get(f"/executions/{execution_id}/audit").status_code == 403


def _options(html: str) -> tuple[list[str], str | None]:
    select = re.search(r'<select id="curve-metric".*?</select>', html, re.S)[0]
    options = re.findall(r'<option value="([^"]+)"( selected)?>', select)
    return [o for o, _ in options], next((o for o, chosen in options if chosen), None)


def test_the_metric_chooser_lists_the_rounds_metrics_and_starts_on_accuracy(browser_for, federation):
    execution_id = federation.training("alice", history=3)
    fresh = federation.training("alice", history=0)
    alice = browser_for("alice")

    page = alice.get(f"/executions/{execution_id}").text

    assert _options(page) == (["accuracy", "loss"], "accuracy")  # not round_ms nor num_examples
    assert '<label for="curve-metric">Metric</label>' in page
    assert 'id="chart-metric" class="chart" data-metric="accuracy"' in page
    assert _options(alice.get(f"/executions/{fresh}").text) == (["accuracy"], "accuracy")


def test_the_metric_chooser_starts_on_concordance_for_a_survival_model(browser_for, federation):
    execution_id = federation.training("alice")
    write_round(federation.store, execution_id, {"round": 1, "loss": 3.1, "concordance": 0.66, "n": 200,
                                                 "concordance_pairs": 0.64, "num_examples": 200,
                                                 "clients": ["hospital-b"], "per_client": {
                                                     "hospital-b": {"loss": 3.0, "concordance": 0.7}}})

    page = browser_for("alice").get(f"/executions/{execution_id}").text

    assert _options(page) == (["concordance", "concordance_pairs", "loss"], "concordance")
