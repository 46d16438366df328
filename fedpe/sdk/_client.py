"""`Session` and `AsyncSession`: the fedpe API over httpx, one base holding all that is not I/O.

The requests themselves are data in `_endpoints`; errors become `fedpe.errors` in `_transport`;
this module only sends, retries a login once when a password session's token expired, polls and
streams.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import AsyncIterator, Iterator
from os import PathLike
from pathlib import Path
from typing import Any

import httpx

from fedpe import __version__
from fedpe.errors import FedpeError, InvalidArgument, JobTimeout, NotFound
from fedpe.sdk import _endpoints as endpoints
from fedpe.sdk._endpoints import Call
from fedpe.sdk._files import PartFile, file_name, inside, unpack
from fedpe.sdk._models import Event, Execution, ExecutionPage, Host, LogRecord, MonitorReturnCode, TaskStatus, Tool
from fedpe.sdk._spec import HostNames, MonitorCallback, SessionSpec
from fedpe.sdk._sse import aiter_sse, iter_sse
from fedpe.sdk._transport import map_exceptions, raise_for_status

API_PREFIX = "/api/v1"


def api_url(url: str) -> str:
    """The API's base URL: `http://host:8000` becomes `http://host:8000/api/v1`; a trailing / goes."""
    if not isinstance(url, str) or not url.strip():
        raise InvalidArgument("the API URL is missing", field="url")
    url = url.strip().rstrip("/")
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as exc:
        raise InvalidArgument(f"invalid API URL {url!r}: {exc}", field="url") from exc
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise InvalidArgument(f"the API URL must look like http://host:port{API_PREFIX} (got {url!r})", field="url")
    return url + API_PREFIX if parsed.path in ("", "/") else url


class _Deadline:
    def __init__(self, timeout: float, poll_interval: float) -> None:
        if timeout < 0:
            raise InvalidArgument("timeout must be 0 (none) or positive", field="timeout")
        if poll_interval <= 0:
            raise InvalidArgument("poll_interval must be positive", field="poll_interval")
        self.timeout, self.poll_interval = timeout, poll_interval
        self._end = time.monotonic() + timeout if timeout else None

    def next_sleep(self) -> float | None:
        """Seconds to sleep before the next poll, None once the time is up."""
        if self._end is None:
            return self.poll_interval
        remaining = self._end - time.monotonic()
        return min(self.poll_interval, remaining) if remaining > 0 else None


def _after_poll(job: Execution, keep_going: Any, deadline: _Deadline) -> MonitorReturnCode | float:
    """NVFlare's order: the callback first, then finished, then the timeout; else how long to sleep."""
    if not keep_going:
        return MonitorReturnCode.ENDED_BY_CB
    if job.finished:
        return MonitorReturnCode.JOB_FINISHED
    sleep = deadline.next_sleep()
    return MonitorReturnCode.TIMEOUT if sleep is None else sleep


def _job_timeout(job_id: str, job: Execution | None, timeout: float) -> JobTimeout:
    status = job.status if job else "unknown"
    return JobTimeout(f"execution {job_id} is still {status} after {timeout:g} s",
                      details={"execution_id": job_id, "status": status})


def _check_event_stream(response: httpx.Response) -> None:
    content_type = response.headers.get("content-type", "")
    if not content_type.startswith("text/event-stream"):
        raise FedpeError(f"expected server-sent events from {response.request.url.path}, got {content_type or 'no content type'}")


class _BaseSession:
    """Settings and request building shared by `Session` and `AsyncSession`."""

    def __init__(self, url: str, api_key: str | None, username: str | None, password: str | None,
                 timeout: float) -> None:
        if api_key is not None and (username is not None or password is not None):
            raise InvalidArgument("give either api_key or username and password, not both", field="api_key")
        if (username is None) != (password is None):
            raise InvalidArgument("username and password go together", field="password" if password is None else "username")
        if timeout is not None and timeout <= 0:
            raise InvalidArgument("timeout must be positive", field="timeout")
        self.url = api_url(url)
        self._api_key, self._username, self._password = api_key, username, password
        self._token: str | None = None
        self._timeout = httpx.Timeout(timeout)
        self._stream_timeout = httpx.Timeout(timeout, read=None)

    @property
    def access_token(self) -> str | None:
        """The bearer token a username/password login obtained (None for API-key sessions)."""
        return self._token

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.url!r})"

    def _client_options(self, transport: Any, verify: Any) -> dict[str, Any]:
        options: dict[str, Any] = {"base_url": self.url + "/", "timeout": self._timeout, "follow_redirects": True,
                                   "headers": {"User-Agent": f"fedpe-sdk/{__version__}"}, "verify": verify}
        if transport is not None:
            options["transport"] = transport
        return options

    def _request(self, client: httpx.Client | httpx.AsyncClient, call: Call) -> httpx.Request:
        bearer = self._token or self._api_key
        return client.build_request(
            call.method, call.path.lstrip("/"), params=call.query(), json=call.json, data=call.data,
            headers={"Authorization": f"Bearer {bearer}"} if bearer else None,
            timeout=self._stream_timeout if call.streaming else self._timeout,
        )

    def _must_login(self, call: Call) -> bool:
        return self._password is not None and call.path != "/token"

    def _login_call(self) -> Call:
        return endpoints.token(self._username or "", self._password or "")


class Session(_BaseSession, SessionSpec):
    """A connection to the fedpe API.

    Args:
        url: the API, e.g. `http://127.0.0.1:8000/api/v1` (`/api/v1` is added to a bare host URL).
        api_key: an API key (or a token from `POST /token`), sent as `Authorization: Bearer`.
        username: log in with a username and password instead (`POST /token`); the token is
            renewed once when the API answers 401.
        password: the password of `username`.
        timeout: seconds to wait for the API on each request (event streams have no read timeout).
        transport: an httpx transport to send through (tests use `httpx.MockTransport`).
        verify: TLS verification as httpx takes it (True, False, an `ssl.SSLContext`).

    Use it as a context manager, or call `close`.
    """

    def __init__(self, url: str, api_key: str | None = None, *, username: str | None = None,
                 password: str | None = None, timeout: float = 30, transport: httpx.BaseTransport | None = None,
                 verify: Any = True) -> None:
        super().__init__(url, api_key, username, password, timeout)
        self._client = httpx.Client(**self._client_options(transport, verify))
        if self._password is not None:
            try:
                self._login()
            except BaseException:
                self._client.close()
                raise

    def __enter__(self) -> "Session":
        return self

    def close(self) -> None:
        """Close the session's connections."""
        self._client.close()

    # Sending

    def _login(self) -> None:
        self._token = None
        self._token = self._call(self._login_call())

    def _send(self, call: Call, *, stream: bool = False) -> httpx.Response:
        with map_exceptions(self.url):
            response = self._client.send(self._request(self._client, call), stream=stream)
            if response.status_code == 401 and self._must_login(call):
                response.close()
                self._login()
                response = self._client.send(self._request(self._client, call), stream=stream)
            if not response.is_success:
                response.read()
                response.close()
        raise_for_status(response)
        return response

    def _call(self, call: Call) -> Any:
        return call.parse(self._send(call))

    # Hosts and tools

    def hosts(self) -> list[Host]:
        """The federation's hosts (`GET /hosts`)."""
        return self._call(endpoints.hosts())

    def host(self, name: str) -> Host:
        """One host by name (`GET /hosts/{name}`)."""
        return self._call(endpoints.host(name))

    def resources(self, hosts: HostNames | None = None) -> dict[str, dict[str, Any]]:
        """Resources per host (`GET /hosts/resources`)."""
        return self._call(endpoints.resources(hosts))

    def heartbeat(self, host: str) -> dict[str, Any]:
        """A host's last sign of life (`GET /hosts/heartbeat`)."""
        return self._call(endpoints.heartbeat(host))

    def datasets(self) -> dict[str, list[Any]]:
        """Datasets per host (`GET /hosts/datasets`)."""
        return self._call(endpoints.datasets())

    def tools(self) -> list[Tool]:
        """The tools that can be run (`GET /tools`)."""
        return self._call(endpoints.tools())

    def tool(self, tool_id: str) -> Tool:
        """One tool and its parameter schema (`GET /tools/{id}`)."""
        return self._call(endpoints.tool(tool_id))

    # Submitting

    def validate(self, tool: str, server: str | None = None, clients: HostNames | None = None,
                 params: dict[str, Any] | None = None) -> dict[str, Any]:
        """Check a submission without running it; returns the parameters with defaults (`POST /validate`)."""
        return self._call(endpoints.validate(tool, server, clients, params))

    def submit_job(self, tool: str, server: str | None = None, clients: HostNames | None = None,
                   params: dict[str, Any] | None = None, submit_token: str | None = None) -> str:
        """Start an execution and return its id (`POST /tools/job/{tool}`)."""
        return self._call(endpoints.submit_job(tool, server, clients, params, submit_token))

    # Following

    def list_jobs(self, status: str | None = None, tool: str | None = None, owner: str | None = None,
                  limit: int = 50, offset: int = 0, sort: str | None = "created_at:desc") -> ExecutionPage:
        """One page of executions (`GET /executions`)."""
        return self._call(endpoints.list_jobs(status, tool, owner, limit, offset, sort))

    def get_job(self, job_id: str) -> Execution:
        """One execution (`GET /executions/{id}`); raises `JobNotFound`."""
        return self._call(endpoints.get_job(job_id))

    def job_status(self, job_id: str) -> list[TaskStatus]:
        """Each role's status on each host (`GET /executions/status/{id}`)."""
        return self._call(endpoints.job_status(job_id))

    def monitor_job(self, job_id: str, cb: MonitorCallback | None = None, timeout: float = 0,
                    poll_interval: float = 1.0) -> MonitorReturnCode:
        """Poll until finished, timed out or stopped by `cb` (see `SessionSpec.monitor_job`)."""
        deadline = _Deadline(timeout, poll_interval)
        while True:
            job = self.get_job(job_id)
            outcome = _after_poll(job, cb(self, job_id, job) if cb is not None else True, deadline)
            if isinstance(outcome, MonitorReturnCode):
                return outcome
            time.sleep(outcome)

    def wait_for_job(self, job_id: str, timeout: float = 0, poll_interval: float = 1.0) -> Execution:
        """The execution once finished; raises `JobTimeout` after `timeout` seconds (0: never)."""
        last: list[Execution] = []
        code = self.monitor_job(job_id, lambda _s, _id, job: last.append(job) or True, timeout, poll_interval)
        if code is MonitorReturnCode.TIMEOUT:
            raise _job_timeout(job_id, last[-1] if last else None, timeout)
        return last[-1]

    def stream_events(self, job_id: str) -> Iterator[Event]:
        """Server-sent events of an execution until `done` (`GET /executions/{id}/stream`)."""
        return self._events(endpoints.stream_events(job_id))

    def _events(self, call: Call) -> Iterator[Event]:
        response = self._send(call, stream=True)
        try:
            _check_event_stream(response)
            with map_exceptions(self.url):
                for event in iter_sse(response.iter_lines()):
                    yield event
                    if event.event == "done":
                        return
        finally:
            response.close()

    # Acting

    def abort_job(self, job_id: str) -> Any:
        """Cancel an execution (`POST /executions/cancel_run/{id}`)."""
        return self._call(endpoints.abort_job(job_id))

    def control_job(self, job_id: str, action: str, reason: str | None = None) -> dict[str, Any]:
        """`pause`, `resume`, `stop` or `abort` an execution (`POST /executions/{id}/control`)."""
        return self._call(endpoints.control_job(job_id, action, reason))

    def clone_job(self, job_id: str) -> str:
        """Run an execution again; returns the new id (`POST /executions/{id}/clone`)."""
        return self._call(endpoints.clone_job(job_id))

    def delete_job(self, job_id: str) -> Any:
        """Delete an execution (`DELETE /executions/{id}`)."""
        return self._call(endpoints.delete_job(job_id))

    def rename_job(self, job_id: str, name: str) -> Any:
        """Rename an execution (`PATCH /executions/{id}`)."""
        return self._call(endpoints.rename_job(job_id, name))

    # Results

    def get_job_logs(self, job_id: str, host: str | None = None, level: str | None = None) -> str:
        """The log as text (`GET /executions/logs/{id}`)."""
        return self._call(endpoints.get_job_logs(job_id, host, level, None, None))

    def log_records(self, job_id: str, host: str | None = None, level: str | None = None, offset: int = 0,
                    limit: int | None = None) -> list[LogRecord]:
        """The log as records from `offset` on (`GET /executions/logs/{id}?format=json`)."""
        return self._call(endpoints.log_records(job_id, host, level, offset, limit))

    def report(self, job_id: str) -> dict[str, Any]:
        """Resources used per role and in total (`GET /executions/report/{id}`)."""
        return self._call(endpoints.report(job_id))

    def audit(self, job_id: str) -> list[dict[str, Any]]:
        """The heads of the hosts' audit logs as each role ended (`GET /executions/{id}/audit`):
        `host`, `task`, `seq`, `hash` and `expect`, the value `fedpe host audit --expect` checks a log against."""
        return self._call(endpoints.audit(job_id))

    def list_files(self, job_id: str, host: str | None = None) -> dict[str, list[Any]]:
        """Output files per host (`GET /data/list_files`)."""
        return self._call(endpoints.list_files(job_id, host))

    def file_sizes(self, job_id: str, host: str | None = None) -> dict[str, dict[str, int | None]]:
        """Output files per host with their sizes in bytes (`GET /data/list_files`)."""
        return self._call(endpoints.list_files(job_id, host, sizes=True))

    def download_job_result(self, job_id: str, destination: str | PathLike[str], host: str | None = None,
                            file: str | None = None) -> Path:
        """Download outputs into `destination/{host}/` (see `SessionSpec.download_job_result`)."""
        destination = Path(destination)
        destination.mkdir(parents=True, exist_ok=True)
        listing = None if host else self.list_files(job_id)
        targets = _download_targets(job_id, destination, host, file, listing)
        for node, target in targets:
            call = endpoints.download(job_id, node, file)
            if file is not None:
                self._stream_to(call, target)
            else:
                archive, disposition = self._stream_to(call, destination / f".{node}.download")
                unpack(archive, target, disposition)
        return targets[0][1] if file is not None and len(targets) == 1 else destination

    def _stream_to(self, call: Call, path: Path) -> tuple[Path, str | None]:
        response = self._send(call, stream=True)
        part = PartFile(path)
        try:
            with map_exceptions(self.url):
                for chunk in response.iter_bytes():
                    part.write(chunk)
        except BaseException:
            part.discard()
            raise
        finally:
            response.close()
        return part.commit(), response.headers.get("content-disposition")


def _download_targets(job_id: str, destination: Path, host: str | None, file: str | None,
                      listing: dict[str, list[Any]] | None) -> list[tuple[str, Path]]:
    """(host, where its download goes): `destination/{host}/{file}` or the folder `destination/{host}`."""
    if host:
        nodes = [host]
    elif file is None:
        nodes = [node for node, files in (listing or {}).items() if files]
    else:
        nodes = [node for node, files in (listing or {}).items() if file in {file_name(e) for e in files}]
        if not nodes:
            raise NotFound(f"no host of execution {job_id} has an output named {file!r}", details={"field": "file"})
    folders = [(node, inside(destination, node)) for node in nodes]
    return [(node, inside(folder, file) if file is not None else folder) for node, folder in folders]


class AsyncSession(_BaseSession):
    """`Session` for asyncio: the same verbs as coroutines, `stream_events` as an async iterator.

    A username/password login happens on the first request. Use `async with` or `aclose`.
    """

    def __init__(self, url: str, api_key: str | None = None, *, username: str | None = None,
                 password: str | None = None, timeout: float = 30,
                 transport: httpx.AsyncBaseTransport | None = None, verify: Any = True) -> None:
        super().__init__(url, api_key, username, password, timeout)
        self._client = httpx.AsyncClient(**self._client_options(transport, verify))

    async def __aenter__(self) -> "AsyncSession":
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the session's connections."""
        await self._client.aclose()

    async def _login(self) -> None:
        self._token = None
        self._token = await self._call(self._login_call())

    async def _send(self, call: Call, *, stream: bool = False) -> httpx.Response:
        with map_exceptions(self.url):
            if self._must_login(call) and self._token is None:
                await self._login()
            response = await self._client.send(self._request(self._client, call), stream=stream)
            if response.status_code == 401 and self._must_login(call):
                await response.aclose()
                await self._login()
                response = await self._client.send(self._request(self._client, call), stream=stream)
            if not response.is_success:
                await response.aread()
                await response.aclose()
        raise_for_status(response)
        return response

    async def _call(self, call: Call) -> Any:
        return call.parse(await self._send(call))

    async def hosts(self) -> list[Host]:
        """The federation's hosts."""
        return await self._call(endpoints.hosts())

    async def host(self, name: str) -> Host:
        """One host by name."""
        return await self._call(endpoints.host(name))

    async def resources(self, hosts: HostNames | None = None) -> dict[str, dict[str, Any]]:
        """Resources per host."""
        return await self._call(endpoints.resources(hosts))

    async def heartbeat(self, host: str) -> dict[str, Any]:
        """A host's last sign of life."""
        return await self._call(endpoints.heartbeat(host))

    async def datasets(self) -> dict[str, list[Any]]:
        """Datasets per host."""
        return await self._call(endpoints.datasets())

    async def tools(self) -> list[Tool]:
        """The tools that can be run."""
        return await self._call(endpoints.tools())

    async def tool(self, tool_id: str) -> Tool:
        """One tool and its parameter schema."""
        return await self._call(endpoints.tool(tool_id))

    async def validate(self, tool: str, server: str | None = None, clients: HostNames | None = None,
                       params: dict[str, Any] | None = None) -> dict[str, Any]:
        """Check a submission without running it."""
        return await self._call(endpoints.validate(tool, server, clients, params))

    async def submit_job(self, tool: str, server: str | None = None, clients: HostNames | None = None,
                         params: dict[str, Any] | None = None, submit_token: str | None = None) -> str:
        """Start an execution and return its id."""
        return await self._call(endpoints.submit_job(tool, server, clients, params, submit_token))

    async def list_jobs(self, status: str | None = None, tool: str | None = None, owner: str | None = None,
                        limit: int = 50, offset: int = 0, sort: str | None = "created_at:desc") -> ExecutionPage:
        """One page of executions."""
        return await self._call(endpoints.list_jobs(status, tool, owner, limit, offset, sort))

    async def get_job(self, job_id: str) -> Execution:
        """One execution."""
        return await self._call(endpoints.get_job(job_id))

    async def job_status(self, job_id: str) -> list[TaskStatus]:
        """Each role's status on each host."""
        return await self._call(endpoints.job_status(job_id))

    async def monitor_job(self, job_id: str, cb: MonitorCallback | None = None, timeout: float = 0,
                          poll_interval: float = 1.0) -> MonitorReturnCode:
        """Poll until finished, timed out or stopped by `cb` (which may be a coroutine function)."""
        deadline = _Deadline(timeout, poll_interval)
        while True:
            job = await self.get_job(job_id)
            keep_going = cb(self, job_id, job) if cb is not None else True
            if inspect.isawaitable(keep_going):
                keep_going = await keep_going
            outcome = _after_poll(job, keep_going, deadline)
            if isinstance(outcome, MonitorReturnCode):
                return outcome
            await asyncio.sleep(outcome)

    async def wait_for_job(self, job_id: str, timeout: float = 0, poll_interval: float = 1.0) -> Execution:
        """The execution once finished; raises `JobTimeout`."""
        last: list[Execution] = []
        code = await self.monitor_job(job_id, lambda _s, _id, job: last.append(job) or True, timeout, poll_interval)
        if code is MonitorReturnCode.TIMEOUT:
            raise _job_timeout(job_id, last[-1] if last else None, timeout)
        return last[-1]

    def stream_events(self, job_id: str) -> AsyncIterator[Event]:
        """Server-sent events of an execution until `done`."""
        return self._events(endpoints.stream_events(job_id))

    async def _events(self, call: Call) -> AsyncIterator[Event]:
        response = await self._send(call, stream=True)
        try:
            _check_event_stream(response)
            with map_exceptions(self.url):
                async for event in aiter_sse(response.aiter_lines()):
                    yield event
                    if event.event == "done":
                        return
        finally:
            await response.aclose()

    async def abort_job(self, job_id: str) -> Any:
        """Cancel an execution."""
        return await self._call(endpoints.abort_job(job_id))

    async def control_job(self, job_id: str, action: str, reason: str | None = None) -> dict[str, Any]:
        """`pause`, `resume`, `stop` or `abort` an execution."""
        return await self._call(endpoints.control_job(job_id, action, reason))

    async def clone_job(self, job_id: str) -> str:
        """Run an execution again; returns the new id."""
        return await self._call(endpoints.clone_job(job_id))

    async def delete_job(self, job_id: str) -> Any:
        """Delete an execution."""
        return await self._call(endpoints.delete_job(job_id))

    async def rename_job(self, job_id: str, name: str) -> Any:
        """Rename an execution."""
        return await self._call(endpoints.rename_job(job_id, name))

    async def get_job_logs(self, job_id: str, host: str | None = None, level: str | None = None) -> str:
        """The log as text."""
        return await self._call(endpoints.get_job_logs(job_id, host, level, None, None))

    async def log_records(self, job_id: str, host: str | None = None, level: str | None = None, offset: int = 0,
                          limit: int | None = None) -> list[LogRecord]:
        """The log as records from `offset` on."""
        return await self._call(endpoints.log_records(job_id, host, level, offset, limit))

    async def report(self, job_id: str) -> dict[str, Any]:
        """Resources used per role and in total."""
        return await self._call(endpoints.report(job_id))

    async def audit(self, job_id: str) -> list[dict[str, Any]]:
        """The heads of the hosts' audit logs as each role ended."""
        return await self._call(endpoints.audit(job_id))

    async def list_files(self, job_id: str, host: str | None = None) -> dict[str, list[Any]]:
        """Output files per host."""
        return await self._call(endpoints.list_files(job_id, host))

    async def file_sizes(self, job_id: str, host: str | None = None) -> dict[str, dict[str, int | None]]:
        """Output files per host with their sizes in bytes."""
        return await self._call(endpoints.list_files(job_id, host, sizes=True))

    async def download_job_result(self, job_id: str, destination: str | PathLike[str], host: str | None = None,
                                  file: str | None = None) -> Path:
        """Download outputs into `destination/{host}/`."""
        destination = Path(destination)
        destination.mkdir(parents=True, exist_ok=True)
        listing = None if host else await self.list_files(job_id)
        targets = _download_targets(job_id, destination, host, file, listing)
        for node, target in targets:
            call = endpoints.download(job_id, node, file)
            if file is not None:
                await self._stream_to(call, target)
            else:
                archive, disposition = await self._stream_to(call, destination / f".{node}.download")
                unpack(archive, target, disposition)
        return targets[0][1] if file is not None and len(targets) == 1 else destination

    async def _stream_to(self, call: Call, path: Path) -> tuple[Path, str | None]:
        response = await self._send(call, stream=True)
        part = PartFile(path)
        try:
            with map_exceptions(self.url):
                async for chunk in response.aiter_bytes():
                    part.write(chunk)
        except BaseException:
            part.discard()
            raise
        finally:
            await response.aclose()
        return part.commit(), response.headers.get("content-disposition")
