"""AsyncSession shares Session's requests and parsers; these check what it does on its own: sending,
lazy login, polling, streaming and downloading."""

from __future__ import annotations

import asyncio
import io
import json
import zipfile
from pathlib import Path

import httpx
import pytest

from fedpe.errors import JobNotFound, JobTimeout, NoConnection
from fedpe.sdk import AsyncSession, MonitorReturnCode

URL = "http://fedpe.test/api/v1"


def _run(coroutine):
    return asyncio.run(coroutine)


def _zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr("health.json", "{}")
    return buffer.getvalue()


def _handler(statuses: list[str]):
    polls: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        path = request.url.path.removeprefix("/api/v1")
        if path == "/token":
            return httpx.Response(200, json={"access_token": "tok"})
        if path == "/tools/job/health-check":
            assert request.headers["authorization"] == "Bearer tok"
            return httpx.Response(200, json={"status": "success", "execution_id": "e1"})
        if path == "/executions/e1":
            polls.append(statuses[min(len(polls), len(statuses) - 1)])
            return httpx.Response(200, json={"id": "e1", "status": polls[-1]})
        if path == "/executions/e1/stream":
            return httpx.Response(200, headers={"content-type": "text/event-stream"},
                                  content=b'event: status\ndata: {"status": "running"}\n\nevent: done\ndata: {}\n\n')
        if path == "/data/list_files":
            return httpx.Response(200, json={"hospital-a": {"files": ["health.json"]}})
        if path == "/data/download_files":
            return httpx.Response(200, content=_zip())
        return httpx.Response(404, json={"error": {"code": "EXECUTION_NOT_FOUND", "message": "no", "details": {}}})
    return handler, polls


def test_submit_wait_stream_download(tmp_path: Path) -> None:
    handler, polls = _handler(["running", "completed"])

    async def scenario():
        async with AsyncSession(URL, username="alice", password="pw",
                                transport=httpx.MockTransport(handler)) as session:
            job_id = await session.submit_job("health-check", clients=["hospital-a"])
            events = [event.event async for event in session.stream_events(job_id)]
            job = await session.wait_for_job(job_id, poll_interval=0.001)
            path = await session.download_job_result(job_id, tmp_path)
            return job_id, events, job, path

    job_id, events, job, path = _run(scenario())

    assert job_id == "e1" and events == ["status", "done"]
    assert job.status == "completed" and polls == ["running", "completed"]
    assert json.loads((path / "hospital-a" / "health.json").read_text()) == {}


def test_monitor_accepts_a_coroutine_callback_and_times_out() -> None:
    handler, _ = _handler(["running"])
    seen = []

    async def cb(session, job_id, job) -> bool:
        seen.append(job.status)
        return True

    async def scenario():
        async with AsyncSession(URL, "key", transport=httpx.MockTransport(handler)) as session:
            code = await session.monitor_job("e1", cb=cb, timeout=0.03, poll_interval=0.01)
            with pytest.raises(JobTimeout):
                await session.wait_for_job("e1", timeout=0.02, poll_interval=0.01)
            return code

    assert _run(scenario()) is MonitorReturnCode.TIMEOUT
    assert set(seen) == {"running"}


def test_errors_map_as_in_the_sync_session() -> None:
    handler, _ = _handler(["running"])

    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("Connection refused")

    async def scenario():
        async with AsyncSession(URL, "key", transport=httpx.MockTransport(handler)) as session:
            with pytest.raises(JobNotFound):
                await session.get_job("e2")
        async with AsyncSession(URL, "key", transport=httpx.MockTransport(refuse)) as session:
            with pytest.raises(NoConnection):
                await session.hosts()

    _run(scenario())


def test_file_sizes_as_in_the_sync_session() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"hospital-a": {"files": ["health.json"], "sizes": {"health.json": 17}}})

    async def scenario():
        async with AsyncSession(URL, "key", transport=httpx.MockTransport(handler)) as session:
            return await session.file_sizes("e1")

    assert _run(scenario()) == {"hospital-a": {"health.json": 17}}
