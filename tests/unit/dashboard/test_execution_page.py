"""The execution page: its rounds as /metrics has them, controls where they apply, rename, clone,
delete, downloads byte for byte, and its event stream with the session cookie."""

from __future__ import annotations

import io
import json
import re
import uuid
import zipfile

import pytest
from fastapi.testclient import TestClient

from fedpe.api import streams


@pytest.fixture(autouse=True)
def quick_streams(monkeypatch):
    monkeypatch.setattr(streams, "POLL_S", 0.05)
    monkeypatch.setattr(streams, "LOG_FLUSH_S", 0.05)


def _rows(html: str) -> list[dict]:
    rows = []
    for match in re.finditer(r'<tr data-round="(\d+)" data-metrics="([^"]*)" data-per-client="([^"]*)" '
                             r'data-dropped="([^"]*)"', html):
        unescape = lambda s: s.replace("&#34;", '"').replace("&quot;", '"').replace("&amp;", "&")  # noqa: E731
        rows.append({"round": int(match[1]), "metrics": json.loads(unescape(match[2])),
                     "per_client": json.loads(unescape(match[3])), "dropped": json.loads(unescape(match[4]))})
    return rows


def test_the_page_carries_the_same_rounds_as_the_metrics_endpoint(browser_for, federation):
    execution_id = federation.training("alice", history=4, dropped={3: ["hospital-b"]})
    alice = browser_for("alice")
    key = federation.state.users.add("carol", admin=True)[1]

    page = alice.get(f"/executions/{execution_id}").text
    metrics = TestClient(alice.app).get(f"/api/v1/executions/{execution_id}/metrics",
                                        headers={"Authorization": f"Bearer {key}"}).json()

    assert [{k: r[k] for k in ("round", "metrics", "per_client", "dropped")} for r in metrics["rows"]] == _rows(page)
    assert 'id="rounds-table" data-rounds="4"' in page
    assert _rows(page)[2]["dropped"] == ["hospital-b"] and "hospital-b" not in _rows(page)[2]["per_client"]
    assert 'href="http://prefect.test/runs/flow-run/' + execution_id in page
    assert 'href="http://mlflow.test/#/runs/0123456789abcdef"' in page


def test_the_controls_are_those_that_apply_and_act_between_rounds(browser_for, federation):
    execution_id = federation.training("alice", history=2)
    alice = browser_for("alice")
    page = alice.get(f"/executions/{execution_id}").text
    assert all(f'data-action="{a}"' in page for a in ("pause", "stop", "abort")) and 'data-action="resume"' not in page

    paused = alice.post(f"/executions/{execution_id}/control", data={"action": "pause"},
                        headers={"X-CSRF-Token": alice.csrf, "HX-Request": "true"})
    assert federation.scheduler.events == {f"fedpe-{execution_id}-pause": True}
    assert "pauses after the current round" in paused.text and 'id="status"' in paused.text

    federation.write_progress(execution_id, rounds=5, done=2, dropped={}, paused=True)
    status = alice.get(f"/executions/{execution_id}/status").text
    assert 'data-paused="true"' in status and 'data-action="resume"' in status and 'data-action="pause"' not in status

    alice.post(f"/executions/{execution_id}/control", data={"action": "resume"}, headers={"X-CSRF-Token": alice.csrf})
    assert federation.scheduler.events[f"fedpe-{execution_id}-pause"] is False

    aborted = alice.post(f"/executions/{execution_id}/control", data={"action": "abort"},
                         headers={"X-CSRF-Token": alice.csrf})
    run = federation.prefect.runs[uuid.UUID(execution_id)]
    assert aborted.status_code == 200 and run.state_type == "CANCELLING"
    federation.prefect.set(run.id, "CANCELLED")
    federation.state.executions.forget(execution_id)
    ended = alice.get(f"/executions/{execution_id}/status").text
    assert "data-action=" not in ended
    late = alice.post(f"/executions/{execution_id}/control", data={"action": "pause"},
                      headers={"X-CSRF-Token": alice.csrf, "HX-Request": "true"})
    assert late.status_code == 409 and late.headers["HX-Retarget"] == "#flash" and "already ended" in late.text


def test_a_bad_control_action_names_the_field(browser_for, federation):
    execution_id = federation.training("alice")
    alice = browser_for("alice")

    response = alice.post(f"/executions/{execution_id}/control", data={"action": "explode"},
                          headers={"X-CSRF-Token": alice.csrf})

    assert response.status_code == 422 and "action: one of pause, resume, stop, abort" in response.text


def test_a_tool_without_rounds_offers_only_abort(browser_for, federation):
    run = federation.prefect.add("health-check", "alice", "RUNNING", {"hosts": ["hospital-a"]})
    alice = browser_for("alice")

    page = alice.get(f"/executions/{run.id}").text

    assert 'data-action="abort"' in page and 'data-action="pause"' not in page
    assert 'id="chart-loss"' not in page  # no curves for a tool without rounds


def test_rename_clone_and_delete(browser_for, federation):
    execution_id = federation.training("alice", state_type="COMPLETED")
    alice = browser_for("alice")
    headers = {"X-CSRF-Token": alice.csrf, "HX-Request": "true"}

    renamed = alice.post(f"/executions/{execution_id}/rename", data={"name": "baseline"}, headers=headers)
    empty = alice.post(f"/executions/{execution_id}/rename", data={"name": "  "}, headers=headers)
    cloned = alice.post(f"/executions/{execution_id}/clone", headers=headers)
    deleted = alice.post(f"/executions/{execution_id}/delete", headers=headers)

    assert renamed.status_code == 200 and 'data-testid="execution-name">baseline<' in renamed.text
    assert empty.status_code == 422 and "name: 1 to 100 characters" in empty.text
    new_id = cloned.headers["HX-Redirect"].rsplit("/", 1)[-1]
    assert new_id != execution_id and federation.prefect.submitted[0]["parameters"]["rounds"] == 5
    assert deleted.headers["HX-Redirect"] == "/executions"
    assert alice.get(f"/executions/{execution_id}").status_code == 404
    assert not federation.store.exists(execution_id, "_progress.json")
    assert federation.mlflow_deleted == ["0123456789abcdef"]


def test_downloads_are_the_stored_bytes_one_file_or_the_hosts_archive(browser_for, federation):
    execution_id = federation.training("alice")
    blob = bytes(range(256)) * 40
    federation.file(execution_id, "hospital-a", "model_final.npz", blob)
    federation.file(execution_id, "hospital-a", "checkpoints/round-0001.npz", b"checkpoint")
    alice = browser_for("alice")

    files = alice.get(f"/executions/{execution_id}/files").text
    one = alice.get(f"/executions/{execution_id}/download", params={"node": "hospital-a", "file": "model_final.npz"})
    archive = alice.get(f"/executions/{execution_id}/download", params={"node": "hospital-a"})
    escape = alice.get(f"/executions/{execution_id}/download", params={"node": "hospital-a", "file": "../_progress.json"})

    assert 'data-file="checkpoints/round-0001.npz"' in files and "10.0 KB" in files
    assert one.status_code == 200 and one.content == blob and one.headers["content-length"] == str(len(blob))
    with zipfile.ZipFile(io.BytesIO(archive.content)) as zipped:
        assert sorted(zipped.namelist()) == ["checkpoints/round-0001.npz", "model_final.npz"]
        assert zipped.read("model_final.npz") == blob
    assert escape.status_code == 422 and "file" in escape.text


def test_the_metrics_csv_and_the_log_text(browser_for, federation):
    execution_id = federation.training("alice", history=2)
    alice = browser_for("alice")

    csv = alice.get(f"/executions/{execution_id}/metrics.csv")
    log = alice.get(f"/executions/{execution_id}/logs.txt")

    assert csv.headers["content-type"].startswith("text/csv")
    assert csv.text.splitlines()[0].startswith("round,loss,accuracy,round_ms,num_examples,client.hospital-a.loss")
    assert len(csv.text.splitlines()) == 3
    assert "[hospital-a] round 1/5: accuracy 0.61" in log.text


def _events(response) -> list[dict]:
    events, current = [], {}
    for line in response.iter_lines():
        if not line:
            if current:
                events.append(current)
                if current.get("event") == "done":
                    break
            current = {}
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        current[name] = value[1:] if value.startswith(" ") else value
    return events


def test_the_pages_event_stream_uses_the_session_cookie_and_ends_after_done(browser_for, federation):
    execution_id = federation.training("alice", history=3, state_type="COMPLETED")
    alice = browser_for("alice")

    with alice.stream("GET", f"/executions/{execution_id}/events") as response:
        assert response.status_code == 200 and response.headers["content-type"].startswith("text/event-stream")
        events = _events(response)
    after_done = alice.get(f"/executions/{execution_id}/events", headers={"Last-Event-ID": events[-1]["id"]})

    assert [e["event"] for e in events][:4] == ["status", "round", "round", "round"]
    assert events[-1]["event"] == "done" and json.loads(events[-1]["data"])["status"] == "completed"
    assert any(e["event"] == "log" and "round 1/5" in e["data"] for e in events)
    assert all(e.get("id") for e in events) and events[0]["retry"] == str(streams.RETRY_MS)
    assert after_done.status_code == 204
