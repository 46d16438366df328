"""`fedpe executions list|show|logs|report|audit|files|download|cancel`: following executions (through the SDK)."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.console import RenderableType
from rich.filesize import decimal as file_size
from rich.markup import escape
from rich.progress import BarColumn, Progress, ProgressColumn, SpinnerColumn, Task, TextColumn, TimeElapsedColumn
from rich.table import Column, Table
from rich.text import Text

from fedpe.cli.api_client import open_session, print_json
from fedpe.cli.console import console
from fedpe.cli.options import Json
from fedpe.errors import (AuthenticationError, AuthorizationError, FedpeError, InvalidArgument, JobNotFound,
                          JobTimeout)

if TYPE_CHECKING:
    from fedpe.sdk import Execution, LogRecord, Session

STATUS_STYLE = {"completed": "green", "failed": "red", "cancelled": "yellow", "running": "cyan", "pending": "dim"}

app = typer.Typer(help="Follow executions: list, show, logs, report, files, download, cancel. An ID may be "
                       "shortened to a unique prefix (at least 4 hex digits), as `executions list` shows it.",
                  no_args_is_help=True)

MIN_PREFIX = 4
SHORT_ID = 8
LIST_PAGE = 1000  # the API's largest page of executions and of log lines
_FULL_ID = re.compile(r"^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$")
_HEX_PREFIX = re.compile(r"^[0-9a-f][0-9a-f-]*$")

NOT_METRICS = frozenset({"round", "rounds", "time", "timestamp"})
"""Numbers among an execution's metrics that are bookkeeping, not metrics (as are `*_at` times)."""
FIRST_METRICS = ("accuracy", "loss")
WATCHED_METRICS = 2  # on the live progress line: accuracy and loss when the tool has them
TEST_METRICS = (("accuracy", "test accuracy"), ("loss", "test loss"), ("num_examples", "test records"))
"""flcore's final test figures (`result.final_metrics`) and how `show` labels them."""


def _styled(status: str) -> str:
    style = STATUS_STYLE.get(status)
    return f"[{style}]{status}[/{style}]" if style else status


def _status(job: "Execution") -> str:
    """`running (paused)` while a pause holds the rounds, else the status and the Prefect state."""
    if job.paused and job.status == "running":
        return f"{_styled(job.status)} (paused)"
    return f"{_styled(job.status)} ({job.prefect_state or '-'})"


def _figure(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return "-" if value is None else escape(str(value))


def _when(value: Any) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S") if value else "-"


def _rank(key: str) -> int:
    """accuracy, loss, then other accuracies and losses (validation, train), then the rest."""
    if key in FIRST_METRICS:
        return FIRST_METRICS.index(key)
    matches = [i for i, name in enumerate(FIRST_METRICS) if name in key]
    return len(FIRST_METRICS) + (matches[0] if matches else len(FIRST_METRICS))


def _metrics(metrics: dict[str, Any], limit: int = 4) -> str:
    """`accuracy=0.9  loss=0.25 …`: the numbers that are metrics, accuracy and loss first."""
    numbers = [(k, v) for k, v in metrics.items() if isinstance(v, (int, float)) and not isinstance(v, bool)
               and k not in NOT_METRICS and not k.endswith("_at")]
    shown = sorted(numbers, key=lambda item: _rank(item[0]))[:limit]
    return "  ".join(f"{k}={v:.4g}" for k, v in shown)


def _rounds(job: "Execution") -> int | None:
    """How many rounds the execution has (from its parameters until it reports them), None without rounds."""
    if job.rounds:
        return job.rounds
    planned = job.parameters.get("rounds")
    return planned if isinstance(planned, int) and not isinstance(planned, bool) and planned > 0 else None


def _round(job: "Execution") -> str:
    if job.rounds:
        return f"{job.round or 0}/{job.rounds}"
    return "-" if job.round is None else str(job.round)


# Ids and hosts given on the command line

def _all_jobs(session: "Session") -> Iterator["Execution"]:
    offset = 0
    while True:
        page = session.list_jobs(limit=LIST_PAGE, offset=offset)
        yield from page.executions
        offset += len(page.executions)
        if not page.executions or offset >= page.total:
            return


def resolve_id(session: "Session", value: str) -> str:
    """The execution id `value` stands for: a full id as it is, a unique prefix of at least
    `MIN_PREFIX` hex digits completed from the caller's executions; anything else as given
    (the API then says whether it names an execution)."""
    given = value.strip()
    prefix = given.lower()
    if _FULL_ID.match(prefix) or not _HEX_PREFIX.match(prefix) or len(prefix.replace("-", "")) < MIN_PREFIX:
        return given
    matches = [job.id for job in _all_jobs(session) if job.id.lower().startswith(prefix)]
    if not matches:
        raise JobNotFound(f"no execution has an id starting with {given!r}", field="execution_id")
    if len(matches) > 1:
        more = f" and {len(matches) - 10} more" if len(matches) > 10 else ""
        raise InvalidArgument(f"{given!r} is the start of {len(matches)} execution ids: "
                              f"{', '.join(matches[:10])}{more}; give more of the id",
                              field="execution_id", details={"candidates": matches})
    return matches[0]


def short_ids(ids: list[str]) -> dict[str, str]:
    """Each id cut to `SHORT_ID` characters, longer where two would read the same."""
    out = {}
    for job_id in ids:
        length = SHORT_ID
        while length < len(job_id) and any(o != job_id and o[:length] == job_id[:length] for o in ids):
            length += 1
        out[job_id] = job_id[:length]
    return out


def hosts_of(job: "Execution") -> list[str]:
    """The hosts an execution runs on: those of its status list and the API's `hosts`."""
    return sorted({entry.node for entry in job.statuses} | set(job.hosts))


def check_host(session: "Session", job_id: str, host: str | None) -> None:
    """Refuse a --host the execution does not run on, naming the ones it does."""
    if host is None:
        return
    hosts = hosts_of(session.get_job(job_id))
    if host not in hosts:
        raise InvalidArgument(f"execution {job_id} has no host {host!r}; its hosts: {', '.join(hosts) or 'none yet'}",
                              field="host")


# Following one execution live

class _RoundColumn(ProgressColumn):
    """`3/10` rounds for tools with rounds; nothing for the others (health-check, fed-stats)."""

    def __init__(self) -> None:
        super().__init__(table_column=Column(no_wrap=True))

    def render(self, task: Task) -> Text:
        if task.total is None:
            return Text("")
        return Text(f"{int(task.completed)}/{int(task.total)}", style="progress.download")


class _Display:
    """A rich progress bar over the rounds of one execution, fed by events or polls."""

    def __init__(self, progress: Progress, job: "Execution") -> None:
        self.progress = progress
        self.label = job.tool or "execution"
        self.status, self.paused = job.status, job.paused
        self.task = progress.add_task(self._description(), total=_rounds(job), completed=job.round or 0,
                                      metrics=_metrics(job.metrics, limit=WATCHED_METRICS))

    def _description(self) -> str:
        paused = " (paused)" if self.paused and self.status == "running" else ""
        return f"{self.label} {self.status}{paused}"

    def update(self, data: Any) -> None:
        """Take what an event or a poll says (a dict or an `Execution`) and show it."""
        if hasattr(data, "model_dump"):
            data = data.model_dump()
        if not isinstance(data, dict):
            return
        changes: dict[str, Any] = {}
        if data.get("status") or isinstance(data.get("paused"), bool):  # round events carry neither
            self.status = data.get("status") or self.status
            self.paused = data["paused"] if isinstance(data.get("paused"), bool) else self.paused
            changes["description"] = self._description()
        if isinstance(data.get("rounds"), int) and data["rounds"] > 0:
            changes["total"] = data["rounds"]
        if isinstance(data.get("round"), int):
            changes["completed"] = data["round"]
        if isinstance(data.get("metrics"), dict) and data["metrics"]:
            changes["metrics"] = _metrics(data["metrics"], limit=WATCHED_METRICS)
        if changes:
            self.progress.update(self.task, **changes)


def follow(session: "Session", job_id: str, *, timeout: float = 0, poll_interval: float = 1.0,
           summary: bool = True) -> "Execution":
    """Show a progress bar over rounds with live metrics until the execution ends, then (with
    `summary`) what it gave as `print_result` puts it; return it.

    Events come from the API's event stream; when the stream is not available or breaks off,
    or a `timeout` is given (the stream has none), polling takes over.
    """
    from fedpe.sdk import MonitorReturnCode

    job = session.get_job(job_id)
    if job.finished:
        if summary:
            print_result(job)
        return job
    # Accuracy and loss right after the status, a short bar: the line fits 80 columns.
    columns = (SpinnerColumn(), TextColumn("{task.description}"), TextColumn("{task.fields[metrics]}"),
               _RoundColumn(), BarColumn(bar_width=12), TimeElapsedColumn())
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
    if summary:
        print_result(final)
    return final


# What an execution gave

def _result_rows(job: "Execution") -> list[tuple[str, str]]:
    """Why the rounds stopped early; flcore's final test figures and privacy spent; the MLflow run and model."""
    result = job.result or {}
    rows = [("stopped because", escape(job.stopped_because))] if job.stopped_because else []
    final = result.get("final_metrics")
    if isinstance(final, dict):
        rows += [(label, _figure(final[key])) for key, label in TEST_METRICS if final.get(key) is not None]
    if isinstance(result.get("epsilon"), (int, float)):
        rows.append(("epsilon", _figure(float(result["epsilon"]))))
    run = result.get("mlflow_run_id") or job.mlflow_run_id
    model = result.get("model_uri") or job.model_uri
    rows += [(label, escape(str(value))) for label, value in (("mlflow run", run), ("model", model)) if value]
    return rows


def _failed_probes(report: dict[str, Any]) -> str:
    probes = report.get("reachability") if isinstance(report.get("reachability"), dict) else {}
    failed = [f"{name} ({probe.get('error') or 'failed'})" for name, probe in probes.items()
              if isinstance(probe, dict) and not probe.get("ok")]
    return escape(", ".join(failed) or "no probe failed")


def _health(result: dict[str, Any]) -> list[RenderableType]:
    """health-check: one line per host, healthy or the probes that failed."""
    reports = result.get("reports")
    if not isinstance(reports, dict) or not reports:
        return []
    table = Table("host", "health")
    for host, report in reports.items():
        report = report if isinstance(report, dict) else {}
        healthy = report.get("healthy")
        table.add_row(escape(str(host)),
                      "[green]healthy[/green]" if healthy else f"[red]unhealthy[/red]: {_failed_probes(report)}")
    return [table]


def _suppressed(column: dict[str, Any]) -> str:
    """`yes` when every host suppressed the column, `partly` when some hosts or bins were."""
    if column.get("suppressed"):
        return "yes"
    return "partly" if column.get("hosts_suppressed") or column.get("hist_suppressed_bins") else "no"


def _fed_stats(result: dict[str, Any]) -> list[RenderableType]:
    """fed-stats: count, mean, std, median and suppression of each numeric column."""
    columns = (result.get("statistics") or {}).get("columns")
    if not isinstance(columns, dict):
        return []
    hosts = result.get("hosts") or []
    table = Table(title=f"{escape(str(result.get('dataset') or '-'))}: {len(hosts)} hosts, "
                        f"min_count {result.get('min_count', '-')}")
    table.add_column("column")
    for header in ("count", "mean", "std", "median"):
        table.add_column(header, justify="right")
    table.add_column("suppressed")
    numeric = {n: c for n, c in columns.items() if isinstance(c, dict) and c.get("kind") == "numeric"}
    for name, column in numeric.items():
        median = (column.get("quantiles") or {}).get("0.5")
        table.add_row(escape(name), *(_figure(column.get(k)) for k in ("count", "mean", "std")), _figure(median),
                      _suppressed(column))
    shown: list[RenderableType] = [table] if numeric else []
    others = [escape(n) for n in columns if n not in numeric]
    if others:
        shown.append(Text.from_markup(f"[dim]categorical: {', '.join(others)} (--json for their counts)[/dim]"))
    return shown


def _pipeline(result: dict[str, Any]) -> list[RenderableType]:
    """pipeline: one row per part, with its tool, Prefect state and message."""
    parts = [p for p in result.get("parts") or [] if isinstance(p, dict)]
    if not parts:
        return []
    table = Table("part", "tool", "state", "message")
    for part in parts:
        state = str(part.get("state") or "-")
        style = STATUS_STYLE.get(state.lower())
        table.add_row(str(part.get("part", "-")), escape(str(part.get("tool") or "-")),
                      f"[{style}]{state}[/{style}]" if style else escape(state),
                      escape(str(part.get("message") or "-")))
    return [table]


RESULT_VIEWS = {"health-check": _health, "fed-stats": _fed_stats, "pipeline": _pipeline}
"""The tables `show` draws from a tool's result (flcore's fits in `_result_rows`)."""


def _result_tables(job: "Execution") -> list[RenderableType]:
    view = RESULT_VIEWS.get(job.tool or "")
    return view(job.result) if view and job.result else []


def _grid(rows: list[tuple[str, str | None]]) -> Table:
    """Label / value rows, labels bold; rows whose value is None are left out."""
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column()
    for label, value in rows:
        if value is not None:
            grid.add_row(label, value)
    return grid


def print_result(job: "Execution") -> None:
    """The short summary of what an execution gave, as `executions show` ends with it."""
    rows = _result_rows(job)
    if rows:
        console.print(_grid(rows))
    for renderable in _result_tables(job):
        console.print(renderable)


def _show(job: "Execution") -> None:
    console.print(_grid([
        ("id", job.id), ("name", job.name or "-"), ("tool", job.tool or "-"), ("owner", job.owner or "-"),
        ("status", _status(job)), ("created", _when(job.created_at)),
        ("started", _when(job.started_at)), ("ended", _when(job.ended_at)),
        ("round", _round(job) if job.rounds or job.round is not None else None),
        ("parameters", json.dumps(job.parameters) if job.parameters else "-"),
        ("metrics", _metrics(job.metrics, limit=12) or "-"),
        *_result_rows(job),
    ]))
    if job.statuses:
        tasks = Table("host", "task", "status")
        for entry in job.statuses:
            tasks.add_row(entry.node, entry.task, _styled(entry.state or entry.status))  # the role's own state
        console.print(tasks)
    for renderable in _result_tables(job):
        console.print(renderable)


def log_line(record: "LogRecord") -> str:
    """One log line as the API's text log writes it: ISO time, level, `[host]` (`[flow]` off the hosts)."""
    stamp = record.timestamp.isoformat() if record.timestamp else "-"
    return f"{stamp} {(record.level or '-'):<8} [{record.node or 'flow'}] {record.message}"


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
    """Executions, newest first (ids short, as every `executions` command takes them; --json: in full)."""
    with open_session() as session:
        page = session.list_jobs(status=status, tool=tool, owner=owner, limit=limit, offset=offset, sort=sort)
    if as_json:
        print_json(page)
        return
    table = Table()
    table.add_column("id", no_wrap=True)
    for header in ("name", "tool", "owner", "status", "rounds", "created"):
        table.add_column(header)
    short = short_ids([job.id for job in page.executions])
    for job in page.executions:
        table.add_row(short[job.id], job.name or "-", job.tool or "-", job.owner or "-", _styled(job.status),
                      _round(job), _when(job.created_at))
    console.print(table)
    shown = len(page.executions)
    console.print(f"{page.offset + 1 if shown else 0}-{page.offset + shown} of {page.total}", style="dim")


ExecutionId = typer.Argument(..., metavar="ID",
                             help="An execution id, or a unique prefix of it (at least 4 hex digits).")


@app.command()
def show(
    execution_id: str = ExecutionId,
    watch: bool = typer.Option(False, "--watch", help="Follow it live until it ends (progress over rounds)."),
    as_json: bool = Json,
) -> None:
    """One execution: status, progress, parameters, metrics, tasks per host, and what it gave once it ended."""
    with open_session() as session:
        execution_id = resolve_id(session, execution_id)
        if watch and as_json:
            job = session.wait_for_job(execution_id)
        elif watch:
            job = follow(session, execution_id, summary=False)  # the summary is part of `_show`
        else:
            job = session.get_job(execution_id)
    if as_json:
        print_json(job)
    else:
        _show(job)


def _log_records(session: "Session", job_id: str, host: str | None, level: str | None,
                 offset: int = 0) -> list["LogRecord"]:
    """Every log record from `offset` on, page by page (the API sends at most `LIST_PAGE` at once)."""
    records: list[LogRecord] = []
    while True:
        page = session.log_records(job_id, host=host, level=level, offset=offset + len(records), limit=LIST_PAGE)
        records += page
        if len(page) < LIST_PAGE:
            return records


@app.command()
def logs(
    execution_id: str = ExecutionId,
    host: str = typer.Option(None, "--host", help="Only this host's lines."),
    level: str = typer.Option(None, "--level", help="From this level up (DEBUG, INFO, WARNING, ERROR)."),
    follow_: bool = typer.Option(False, "--follow", "-f", help="Keep printing new lines until the execution ends."),
    as_json: bool = Json,
) -> None:
    """An execution's log (JSON: one record per line with --follow, a list without)."""
    with open_session() as session:
        execution_id = resolve_id(session, execution_id)
        check_host(session, execution_id, host)
        if not follow_:
            records = _log_records(session, execution_id, host, level)
            if as_json:
                print_json(records)
            else:
                for record in records:
                    print(log_line(record))
            return
        offset, finished = 0, False
        while True:
            records = _log_records(session, execution_id, host, level, offset)
            for record in records:
                print(record.model_dump_json() if as_json else log_line(record), flush=True)
            offset += len(records)
            if finished and not records:
                return
            finished = finished or session.get_job(execution_id).finished
            if not records and not finished:
                time.sleep(1.0)


@app.command()
def report(execution_id: str = ExecutionId, as_json: bool = Json) -> None:
    """Resources each role used: CPU seconds, peak memory, exit code, time."""
    with open_session() as session:
        found = session.report(resolve_id(session, execution_id))
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


@app.command()
def audit(execution_id: str = ExecutionId, as_json: bool = Json) -> None:
    """The heads of the hosts' audit logs as each role ended, and the command a host operator
    runs to check its own log against them."""
    with open_session() as session:
        anchors = session.audit(resolve_id(session, execution_id))
    if as_json:
        print_json(anchors)
        return
    table = Table("host", "task", "line", "check on the host")
    for anchor in anchors:
        table.add_row(str(anchor.get("host")), str(anchor.get("task")), str(anchor.get("seq")),
                      f"fedpe host audit --data-dir DIR --verify --expect {anchor.get('expect')}")
    console.print(table)


def _number(value: Any) -> str:
    return f"{value:.2f}" if isinstance(value, float) else "-" if value is None else str(value)


@app.command()
def files(
    execution_id: str = ExecutionId,
    host: str = typer.Option(None, "--host", help="Only this host's files."),
    as_json: bool = Json,
) -> None:
    """The output files of an execution per host, with their sizes (--json: in bytes)."""
    with open_session() as session:
        execution_id = resolve_id(session, execution_id)
        check_host(session, execution_id, host)
        found = session.file_sizes(execution_id, host=host)
    if as_json:
        print_json({node: [{"name": name, "size": size} for name, size in sizes.items()]
                    for node, sizes in found.items()})
        return
    table = Table("host", "file")
    table.add_column("size", justify="right")
    for node, sizes in found.items():
        for name, size in sizes.items():
            table.add_row(node, name, "-" if size is None else file_size(size))
    console.print(table)


@app.command()
def download(
    execution_id: str = ExecutionId,
    host: str = typer.Option(None, "--host", help="Only this host's outputs."),
    file: str = typer.Option(None, "--file", help="Only this file."),
    output: Path = typer.Option(None, "-o", "--output", help="Folder to download into (default: ./ID)."),
    as_json: bool = Json,
) -> None:
    """Download an execution's outputs into OUTPUT/{host}/."""
    with open_session() as session:
        execution_id = resolve_id(session, execution_id)
        check_host(session, execution_id, host)
        path = session.download_job_result(execution_id, output or Path(execution_id), host=host, file=file)
    if as_json:
        print_json({"execution_id": execution_id, "path": str(path)})
    else:
        console.print(f"downloaded to {path}", highlight=False)


@app.command()
def cancel(execution_id: str = ExecutionId, as_json: bool = Json) -> None:
    """Cancel an execution (it stops on every host)."""
    with open_session() as session:
        execution_id = resolve_id(session, execution_id)
        answer = session.abort_job(execution_id)
    if as_json:
        print_json(answer if answer is not None else {"execution_id": execution_id, "status": "cancelling"})
    else:
        message = answer.get("message") if isinstance(answer, dict) else None
        console.print(message or f"cancelling execution {execution_id}", highlight=False)
