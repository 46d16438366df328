"""`fedpe executions list|show|logs|report|files|download|cancel`: following executions (through the SDK)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from fedpe.cli.api_client import open_session, print_json
from fedpe.cli.app import console
from fedpe.cli.options import Json
from fedpe.errors import AuthenticationError, AuthorizationError, FedpeError, JobNotFound, JobTimeout

if TYPE_CHECKING:
    from fedpe.sdk import Execution, LogRecord, Session

STATUS_STYLE = {"completed": "green", "failed": "red", "cancelled": "yellow", "running": "cyan", "pending": "dim"}

app = typer.Typer(help="Follow executions: list, show, logs, report, files, download, cancel.", no_args_is_help=True)


def _styled(status: str) -> str:
    style = STATUS_STYLE.get(status)
    return f"[{style}]{status}[/{style}]" if style else status


def _when(value: Any) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S") if value else "-"


def _metrics(metrics: dict[str, Any], limit: int = 4) -> str:
    shown = [(k, v) for k, v in metrics.items() if isinstance(v, (int, float)) and not isinstance(v, bool)][:limit]
    return "  ".join(f"{k}={v:.4g}" for k, v in shown)


def _round(job: "Execution") -> str:
    if job.rounds:
        return f"{job.round or 0}/{job.rounds}"
    return "-" if job.round is None else str(job.round)


# Following one execution live

class _Display:
    """A rich progress bar over the rounds of one execution, fed by events or polls."""

    def __init__(self, progress: Progress, job: "Execution") -> None:
        self.progress = progress
        self.label = f"{job.tool or 'execution'} {job.id[:8]}"
        self.task = progress.add_task(f"{self.label} {job.status}", total=job.rounds, completed=job.round or 0,
                                      metrics=_metrics(job.metrics, limit=3))

    def update(self, data: Any) -> None:
        """Take what an event or a poll says (a dict or an `Execution`) and show it."""
        if hasattr(data, "model_dump"):
            data = data.model_dump()
        if not isinstance(data, dict):
            return
        changes: dict[str, Any] = {}
        if data.get("status"):
            changes["description"] = f"{self.label} {data['status']}"
        if isinstance(data.get("rounds"), int):
            changes["total"] = data["rounds"]
        if isinstance(data.get("round"), int):
            changes["completed"] = data["round"]
        if isinstance(data.get("metrics"), dict) and data["metrics"]:
            changes["metrics"] = _metrics(data["metrics"], limit=3)
        if changes:
            self.progress.update(self.task, **changes)


def follow(session: "Session", job_id: str, *, timeout: float = 0, poll_interval: float = 1.0) -> "Execution":
    """Show a progress bar over rounds with live metrics until the execution ends; return it.

    Events come from the API's event stream; when the stream is not available or breaks off,
    or a `timeout` is given (the stream has none), polling takes over.
    """
    from fedpe.sdk import MonitorReturnCode

    job = session.get_job(job_id)
    if job.finished:
        return job
    columns = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn(), TextColumn("{task.fields[metrics]}"))
    polled: list[Execution] = []

    def on_poll(_session: Any, _job_id: str, current: "Execution") -> bool:
        polled.append(current)
        display.update(current)
        return True

    with Progress(*columns, console=console) as progress:
        display = _Display(progress, job)
        if not timeout:
            try:
                for event in session.stream_events(job_id):
                    if event.event != "log":  # status, round (or metrics), done
                        display.update(event.data)
            except (JobNotFound, AuthenticationError, AuthorizationError):
                raise
            except FedpeError:
                pass  # no usable event stream: poll instead
        code = session.monitor_job(job_id, on_poll, timeout=timeout, poll_interval=poll_interval)
    final = polled[-1]
    if code is MonitorReturnCode.TIMEOUT:
        raise JobTimeout(f"execution {job_id} is still {final.status} after {timeout:g} s",
                         details={"execution_id": job_id, "status": final.status})
    return final


def _show(job: "Execution") -> None:
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column()
    for label, value in (
        ("id", job.id), ("name", job.name or "-"), ("tool", job.tool or "-"), ("owner", job.owner or "-"),
        ("status", f"{_styled(job.status)} ({job.state or '-'})"), ("created", _when(job.created)),
        ("started", _when(job.started)), ("ended", _when(job.ended)), ("round", _round(job)),
        ("mlflow run", job.mlflow_run_id or "-"),
        ("parameters", json.dumps(job.parameters) if job.parameters else "-"),
        ("metrics", _metrics(job.metrics, limit=12) or "-"),
    ):
        grid.add_row(label, value)
    console.print(grid)
    if job.entries:
        tasks = Table("host", "task", "status")
        for entry in job.entries:
            tasks.add_row(entry.node, entry.task, _styled(entry.status))
        console.print(tasks)


def _log_line(record: "LogRecord") -> str:
    stamp = record.timestamp.strftime("%H:%M:%S") if record.timestamp else "--:--:--"
    return f"{stamp} {(record.level or '-'):7} [{record.node or '-'}] {record.message}"


# Commands

@app.command("list")
def list_(
    status: str = typer.Option(None, "--status", help="pending, running, completed, failed or cancelled."),
    tool: str = typer.Option(None, "--tool", help="Only this tool's executions."),
    owner: str = typer.Option(None, "--owner", help="Only this user's executions (admins)."),
    limit: int = typer.Option(50, "--limit", min=1, max=1000),
    offset: int = typer.Option(0, "--offset", min=0),
    sort: str = typer.Option("created_at:desc", "--sort", help="field:asc or field:desc."),
    as_json: bool = Json,
) -> None:
    """Executions, newest first."""
    with open_session() as session:
        page = session.list_jobs(status=status, tool=tool, owner=owner, limit=limit, offset=offset, sort=sort)
    if as_json:
        print_json(page)
        return
    table = Table("id", "name", "tool", "owner", "status", "round", "created")
    for job in page.executions:
        table.add_row(job.id, job.name or "-", job.tool or "-", job.owner or "-", _styled(job.status), _round(job),
                      _when(job.created))
    console.print(table)
    shown = len(page.executions)
    console.print(f"{page.offset + 1 if shown else 0}-{page.offset + shown} of {page.total}", style="dim")


@app.command()
def show(
    execution_id: str = typer.Argument(..., metavar="ID"),
    watch: bool = typer.Option(False, "--watch", help="Follow it live until it ends (progress over rounds)."),
    as_json: bool = Json,
) -> None:
    """One execution: status, progress, parameters, metrics, tasks per host."""
    with open_session() as session:
        if watch and as_json:
            job = session.wait_for_job(execution_id)
        elif watch:
            job = follow(session, execution_id)
        else:
            job = session.get_job(execution_id)
    if as_json:
        print_json(job)
    else:
        _show(job)


@app.command()
def logs(
    execution_id: str = typer.Argument(..., metavar="ID"),
    host: str = typer.Option(None, "--host", help="Only this host's lines."),
    level: str = typer.Option(None, "--level", help="From this level up (DEBUG, INFO, WARNING, ERROR)."),
    follow_: bool = typer.Option(False, "--follow", "-f", help="Keep printing new lines until the execution ends."),
    as_json: bool = Json,
) -> None:
    """An execution's log (JSON: one record per line with --follow, a list without)."""
    with open_session() as session:
        if not follow_:
            if as_json:
                print_json(session.log_records(execution_id, host=host, level=level))
            else:
                text = session.get_job_logs(execution_id, host=host, level=level)
                print(text, end="" if text.endswith("\n") or not text else "\n")
            return
        offset, finished = 0, False
        while True:
            records = session.log_records(execution_id, host=host, level=level, offset=offset)
            for record in records:
                print(record.model_dump_json() if as_json else _log_line(record), flush=True)
            offset += len(records)
            if finished and not records:
                return
            finished = finished or session.get_job(execution_id).finished
            if not records and not finished:
                time.sleep(1.0)


@app.command()
def report(execution_id: str = typer.Argument(..., metavar="ID"), as_json: bool = Json) -> None:
    """Resources each role used: CPU seconds, peak memory, exit code, time."""
    with open_session() as session:
        found = session.report(execution_id)
    if as_json:
        print_json(found)
        return
    table = Table("host", "task", "cpu s", "peak MB", "exit", "elapsed s")
    for task in found.get("tasks") or []:
        rss = task.get("rss_peak_bytes")
        table.add_row(str(task.get("node", "-")), str(task.get("task", "-")), _number(task.get("cpu_seconds")),
                      _number(rss / 1024 ** 2 if isinstance(rss, (int, float)) else None),
                      str(task.get("exit_code", "-")), _number(task.get("elapsed_s")))
    console.print(table)
    totals = found.get("totals") or {}
    if totals:
        console.print("totals: " + "  ".join(f"{k}={_number(v)}" for k, v in totals.items()), highlight=False)


def _number(value: Any) -> str:
    return f"{value:.2f}" if isinstance(value, float) else "-" if value is None else str(value)


@app.command()
def files(
    execution_id: str = typer.Argument(..., metavar="ID"),
    host: str = typer.Option(None, "--host", help="Only this host's files."),
    as_json: bool = Json,
) -> None:
    """The output files of an execution, per host."""
    from fedpe.sdk._files import file_name

    with open_session() as session:
        found = session.list_files(execution_id, host=host)
    if as_json:
        print_json(found)
        return
    table = Table("host", "file", "size")
    for node, entries in found.items():
        for entry in entries:
            size = entry.get("size") if isinstance(entry, dict) else None
            table.add_row(node, file_name(entry), "-" if size is None else str(size))
    console.print(table)


@app.command()
def download(
    execution_id: str = typer.Argument(..., metavar="ID"),
    host: str = typer.Option(None, "--host", help="Only this host's outputs."),
    file: str = typer.Option(None, "--file", help="Only this file."),
    output: Path = typer.Option(None, "-o", "--output", help="Folder to download into (default: ./ID)."),
    as_json: bool = Json,
) -> None:
    """Download an execution's outputs into OUTPUT/{host}/."""
    with open_session() as session:
        path = session.download_job_result(execution_id, output or Path(execution_id), host=host, file=file)
    if as_json:
        print_json({"execution_id": execution_id, "path": str(path)})
    else:
        console.print(f"downloaded to {path}", highlight=False)


@app.command()
def cancel(execution_id: str = typer.Argument(..., metavar="ID"), as_json: bool = Json) -> None:
    """Cancel an execution (it stops on every host)."""
    with open_session() as session:
        answer = session.abort_job(execution_id)
    if as_json:
        print_json(answer if answer is not None else {"execution_id": execution_id, "status": "cancelling"})
    else:
        message = answer.get("message") if isinstance(answer, dict) else None
        console.print(message or f"cancelling execution {execution_id}", highlight=False)
