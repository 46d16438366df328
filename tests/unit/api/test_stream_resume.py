"""The event stream's ids: every event has one, a subscriber that gives back the last id it got
gets only what came after (from the same poller or from a new one), and the id of `done` ends it."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid

import pytest
from fastapi.testclient import TestClient

from fedpe.api import streams
from fedpe.api.streams import Cursor


@pytest.fixture(autouse=True)
def quick(monkeypatch):
    monkeypatch.setattr(streams, "POLL_S", 0.02)
    monkeypatch.setattr(streams, "LOG_FLUSH_S", 0.02)


async def _take(hub, execution_id, count=None, after=None, until=None) -> list[dict]:
    out = []
    async for item in hub.subscribe(execution_id, after):
        out.append(item)
        if (count and len(out) >= count) or (until and until(item)):
            break
    return out


def test_cursors_read_back_and_refuse_what_this_api_did_not_write():
    cursor = Cursor("0a1b2c3d", 12, 4, 1_700_000_000_000_000, done=True)

    assert Cursor.parse(str(cursor)) == cursor
    assert Cursor.parse("0a1b2c3d.3.0.0") == Cursor("0a1b2c3d", 3)
    for junk in (None, "", "42", "zz.1.2.3", "0a1b2c3d.1.2", "0a1b2c3d.-1.0.0", "x" * 500):
        assert Cursor.parse(junk) is None


def test_a_reconnect_to_the_same_poller_gets_only_what_it_missed(federation):
    execution_id = federation.training("alice", history=2)
    run_id = uuid.UUID(execution_id)
    hub = federation.state.streams

    async def scenario():
        first = await _take(hub, execution_id, until=lambda i: i["event"] == "round" and i["data"]["round"] == 2)
        last = first[-1]["id"]
        federation.write_progress(execution_id, rounds=5, done=4, dropped={})
        federation.prefect.log(run_id, "round 3/5: accuracy 0.7")
        await asyncio.sleep(0.3)  # the poller (still lingering) publishes rounds 3, 4 and the line
        resumed = await _take(hub, execution_id, after=Cursor.parse(last),
                              until=lambda i: i["event"] == "round" and i["data"]["round"] == 4)
        return first, resumed

    first, resumed = asyncio.run(scenario())

    assert [i["event"] for i in first] == ["status", "round", "round"]
    assert [i["data"]["round"] for i in resumed if i["event"] == "round"] == [3, 4]
    assert not any(i["event"] == "status" for i in resumed)  # the status did not change meanwhile
    assert not any(i["event"] == "log" and "round 1/5" in i["data"]["message"] for i in resumed)
    seqs = [Cursor.parse(i["id"]).seq for i in first + resumed]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    assert Cursor.parse(resumed[-1]["id"]).round == 4


def test_a_reconnect_to_a_new_poller_goes_by_round_and_log_time(federation):
    execution_id = federation.training("alice", history=3)
    run_id = uuid.UUID(execution_id)
    seen = federation.prefect.log(run_id, "seen before", at=dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=5))
    after = Cursor("ffffffff", 99, round=2, log_us=int(seen.timestamp.timestamp() * 1_000_000))
    federation.prefect.log(run_id, "new line")

    async def scenario():
        return await _take(federation.state.streams, execution_id, after=after,
                           until=lambda i: i["event"] == "log" and i["data"]["message"] == "new line")

    items = asyncio.run(scenario())

    assert items[0]["event"] == "status"  # the status now
    assert [i["data"]["round"] for i in items if i["event"] == "round"] == [3]
    assert [i["data"]["message"] for i in items if i["event"] == "log"][-1] == "new line"
    assert "seen before" not in [i["data"]["message"] for i in items if i["event"] == "log"]


def test_the_api_stream_has_ids_retry_and_answers_204_after_done(app, federation):
    execution_id = federation.training("alice", history=1, state_type="COMPLETED")
    key = federation.user("alice")
    client = TestClient(app, headers={"Authorization": f"Bearer {key}"})

    response = client.get(f"/api/v1/executions/{execution_id}/stream")  # the whole stream: it ends after done
    lines = response.text.splitlines()
    ids = [line.split(":", 1)[1].strip() for line in lines if line.startswith("id:")]
    retries = [line for line in lines if line.startswith("retry:")]
    done_id = ids[-1]
    again = client.get(f"/api/v1/executions/{execution_id}/stream", headers={"Last-Event-ID": done_id})
    junk = client.get(f"/api/v1/executions/{uuid.uuid4()}/stream", headers={"Last-Event-ID": "junk"})

    assert len(ids) == sum(1 for line in lines if line.startswith("event:")) and len(ids) >= 3
    assert retries == [f"retry: {streams.RETRY_MS}"]
    assert done_id.endswith(".done") and again.status_code == 204
    assert junk.status_code == 404


def test_a_poller_outlives_its_last_subscriber_for_a_while_then_stops(federation, monkeypatch):
    monkeypatch.setattr(streams, "LINGER_S", 0.2)
    execution_id = federation.training("alice", history=1)
    hub = federation.state.streams

    async def scenario():
        await _take(hub, execution_id, count=1)
        lingering = execution_id in hub._pollers
        await asyncio.sleep(0.5)
        return lingering, execution_id in hub._pollers

    lingering, later = asyncio.run(scenario())

    assert lingering and not later
