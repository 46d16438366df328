"""What a fedpe session can do, apart from how it does it (NVFlare's `SessionSpec` beside `Session`).

Every verb raises the `fedpe.errors` tree: `AuthenticationError` (401), `AuthorizationError`
(403), `JobNotFound` / `NotFound` (404), `Conflict` (409), `InvalidArgument` (422 or a bad
argument caught before sending), `NoConnection` (the API cannot be reached or timed out).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator
from os import PathLike
from pathlib import Path
from typing import Any

from fedpe.sdk._models import Event, Execution, ExecutionPage, Host, LogRecord, MonitorReturnCode, TaskStatus, Tool

HostNames = str | Iterable[str]
"""Host names as a list or as one comma-separated string."""

MonitorCallback = Callable[..., bool]
"""`cb(session, job_id, job_meta: Execution) -> bool`: return False to stop monitoring."""


class SessionSpec(ABC):
    """The verbs of a fedpe session: hosts, tools, and the lifecycle of an execution (a job)."""

    def __enter__(self):
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @abstractmethod
    def close(self) -> None:
        """Close the session and its connections; the session cannot be used afterwards."""

    # Hosts and tools

    @abstractmethod
    def hosts(self) -> list[Host]:
        """The federation's hosts with their state (running, disconnected, disabled), datasets and resources."""

    @abstractmethod
    def host(self, name: str) -> Host:
        """One host by name; raises `NotFound` when no host has that name."""

    @abstractmethod
    def resources(self, hosts: HostNames | None = None) -> dict[str, dict[str, Any]]:
        """Resources (CPU, memory, disk…) of the given hosts, every host when None: `{host: resources}`."""

    @abstractmethod
    def heartbeat(self, host: str) -> dict[str, Any]:
        """The last sign of life of `host`: `{"node", "state", "last_seen"}`."""

    @abstractmethod
    def datasets(self) -> dict[str, list[Any]]:
        """The datasets each host offers: `{host: [dataset, …]}`."""

    @abstractmethod
    def tools(self) -> list[Tool]:
        """The tools that can be run, with their roles and the JSON schema of their parameters."""

    @abstractmethod
    def tool(self, tool_id: str) -> Tool:
        """One tool by id; raises `NotFound` when there is none."""

    # Submitting

    @abstractmethod
    def validate(self, tool: str, server: str | None = None, clients: HostNames | None = None,
                 params: dict[str, Any] | None = None) -> dict[str, Any]:
        """Check a submission without running it.

        Args:
            tool: the tool id, e.g. `"flcore"`.
            server: the host of the server role (None for single-role tools).
            clients: the client hosts (the hosts themselves for single-role tools).
            params: the tool's parameters.

        Returns:
            The parameters as the tool will see them (defaults filled in).

        Raises:
            InvalidArgument: a parameter or host is refused; `details["field"]` names it.
        """

    @abstractmethod
    def submit_job(self, tool: str, server: str | None = None, clients: HostNames | None = None,
                   params: dict[str, Any] | None = None, submit_token: str | None = None) -> str:
        """Start an execution of `tool` and return its id.

        Args:
            tool: the tool id.
            server: the host of the server role (None for single-role tools such as health-check).
            clients: the client hosts; for single-role tools, the hosts to run on (None: every host).
            params: the tool's parameters (validated by the API against the tool's schema).
            submit_token: makes the submission safe to retry: the same token with the same request
                returns the first execution's id; with another request it raises `Conflict`.

        Returns:
            The execution id.
        """

    # Following an execution

    @abstractmethod
    def list_jobs(self, status: str | None = None, tool: str | None = None, owner: str | None = None,
                  limit: int = 50, offset: int = 0, sort: str | None = "created_at:desc") -> ExecutionPage:
        """One page of executions, filtered by status, tool and owner, sorted by `field:asc|desc`."""

    @abstractmethod
    def get_job(self, job_id: str) -> Execution:
        """An execution's state, progress (round, rounds, metrics, history) and per-host task statuses."""

    @abstractmethod
    def job_status(self, job_id: str) -> list[TaskStatus]:
        """Each role's status on each host (FEM's list: the execution is finished when none reads running)."""

    @abstractmethod
    def monitor_job(self, job_id: str, cb: MonitorCallback | None = None, timeout: float = 0,
                    poll_interval: float = 1.0) -> MonitorReturnCode:
        """Poll an execution until it finishes, `timeout` seconds pass, or `cb` returns False.

        Args:
            job_id: the execution id.
            cb: called after each poll as `cb(session, job_id, job_meta)` with the `Execution`;
                it returns True to go on monitoring, False to stop.
            timeout: seconds before giving up; 0 waits for ever.
            poll_interval: seconds between polls.

        Returns:
            `MonitorReturnCode.JOB_FINISHED`, `TIMEOUT` or `ENDED_BY_CB`.
        """

    @abstractmethod
    def wait_for_job(self, job_id: str, timeout: float = 0, poll_interval: float = 1.0) -> Execution:
        """Wait until an execution is completed, failed or cancelled and return it.

        A failed execution is returned, not raised: look at `status`.

        Raises:
            JobTimeout: `timeout` seconds (0: never) passed first.
        """

    @abstractmethod
    def stream_events(self, job_id: str) -> Iterator[Event]:
        """The execution's server-sent events as they happen: `status`, `round`, `log`, `done`.

        The iterator ends after `done` (or when the server closes the stream); the request is
        sent on the first iteration.
        """

    # Acting on an execution

    @abstractmethod
    def abort_job(self, job_id: str) -> Any:
        """Cancel an execution: not yet started, it never starts; running, its roles are stopped."""

    @abstractmethod
    def control_job(self, job_id: str, action: str, reason: str | None = None) -> dict[str, Any]:
        """Pause, resume or stop (between rounds) or abort an execution; returns `{"status", "message"}`."""

    @abstractmethod
    def clone_job(self, job_id: str) -> str:
        """Submit a new execution with the same tool, hosts and parameters; returns its id."""

    @abstractmethod
    def delete_job(self, job_id: str) -> Any:
        """Delete an execution and its outputs (a running one is stopped first)."""

    @abstractmethod
    def rename_job(self, job_id: str, name: str) -> Any:
        """Give an execution a new display name."""

    # Results

    @abstractmethod
    def get_job_logs(self, job_id: str, host: str | None = None, level: str | None = None) -> str:
        """The execution's log as text, of one host and from one level up when given."""

    @abstractmethod
    def log_records(self, job_id: str, host: str | None = None, level: str | None = None, offset: int = 0,
                    limit: int | None = None) -> list[LogRecord]:
        """The execution's log as records `{timestamp, level, node, message}`, from record `offset` on."""

    @abstractmethod
    def report(self, job_id: str) -> dict[str, Any]:
        """Resources each role used (CPU seconds, peak memory, exit code, times) and their totals."""

    @abstractmethod
    def list_files(self, job_id: str, host: str | None = None) -> dict[str, list[Any]]:
        """The output files of an execution per host: `{host: [file, …]}`."""

    @abstractmethod
    def file_sizes(self, job_id: str, host: str | None = None) -> dict[str, dict[str, int | None]]:
        """The output files of an execution per host with their sizes: `{host: {file: bytes}}`
        (None where the API gives no size)."""

    @abstractmethod
    def download_job_result(self, job_id: str, destination: str | PathLike[str], host: str | None = None,
                            file: str | None = None) -> Path:
        """Download an execution's outputs into `destination/{host}/`.

        Args:
            job_id: the execution id.
            destination: a folder, created when missing.
            host: only this host's outputs (default: every host that has some).
            file: only this file (a path as `list_files` gives it).

        Returns:
            The path of the file when exactly one was asked for, else `destination`.
        """
