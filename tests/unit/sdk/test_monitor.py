"""monitor_job and wait_for_job: NVFlare's return codes, callbacks and timeouts."""

from __future__ import annotations

import time

import httpx
import pytest

from fedpe.errors import InvalidArgument, JobNotFound, JobTimeout
from fedpe.sdk import MonitorReturnCode, Session

URL = "http://fedpe.test/api/v1"


def _session(statuses: list[str]) -> tuple[Session, list[str]]:
    """A session whose execution e1 goes through `statuses` (the last one repeats)."""
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        status = statuses[min(len(seen), len(statuses) - 1)]
        seen.append(status)
        return httpx.Response(200, json={"id": "e1", "status": status, "round": len(seen), "rounds": 10})

    return Session(URL, "key", transport=httpx.MockTransport(handler)), seen


def test_monitor_returns_job_finished_once_the_execution_ends() -> None:
    session, seen = _session(["pending", "running", "running", "completed"])

    code = session.monitor_job("e1", poll_interval=0.001)

    assert code is MonitorReturnCode.JOB_FINISHED
    assert seen == ["pending", "running", "running", "completed"]


def test_monitor_calls_back_with_session_id_and_execution_and_stops_when_told() -> None:
    # Prepare
    session, seen = _session(["running"])
    calls = []

    def cb(s, job_id, job_meta) -> bool:
        calls.append((s, job_id, job_meta.round))
        return job_meta.round < 3

    # Execute
    code = session.monitor_job("e1", cb=cb, poll_interval=0.001)

    # Assert
    assert code is MonitorReturnCode.ENDED_BY_CB
    assert calls == [(session, "e1", 1), (session, "e1", 2), (session, "e1", 3)]


def test_monitor_times_out() -> None:
    session, seen = _session(["running"])

    started = time.monotonic()
    code = session.monitor_job("e1", timeout=0.05, poll_interval=0.01)

    assert code is MonitorReturnCode.TIMEOUT
    assert time.monotonic() - started < 1
    assert len(seen) >= 2


def test_wait_for_job_returns_the_final_execution_even_when_failed() -> None:
    session, _ = _session(["running", "failed"])

    job = session.wait_for_job("e1", poll_interval=0.001)

    assert (job.status, job.finished) == ("failed", True)


def test_wait_for_job_raises_job_timeout_with_the_last_status() -> None:
    session, _ = _session(["running"])

    with pytest.raises(JobTimeout) as info:
        session.wait_for_job("e1", timeout=0.03, poll_interval=0.01)

    assert "running" in info.value.message
    assert info.value.details["execution_id"] == "e1"
    assert isinstance(info.value, TimeoutError)


def test_wait_for_an_unknown_job_raises_job_not_found() -> None:
    session = Session(URL, "key", transport=httpx.MockTransport(lambda r: httpx.Response(
        404, json={"error": {"code": "EXECUTION_NOT_FOUND", "message": "no execution e1", "details": {}}})))

    with pytest.raises(JobNotFound):
        session.wait_for_job("e1")


@pytest.mark.parametrize(("timeout", "poll_interval"), [(-1, 1.0), (0, 0), (0, -2)])
def test_bad_timeouts_are_invalid_arguments(timeout, poll_interval) -> None:
    session, seen = _session(["running"])

    with pytest.raises(InvalidArgument):
        session.monitor_job("e1", timeout=timeout, poll_interval=poll_interval)
    assert seen == []
