"""`fedpe hosts`, `tools`, `run` and `job launch`: what can run where, and starting it (through the SDK)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from fedpe.cli.api_client import open_session, print_json
from fedpe.cli.console import console
from fedpe.cli.options import Json
from fedpe.errors import ExecutionFailed, InvalidArgument

JOB_KEYS = ("tool", "server", "clients", "parameters", "name")
HOST_STYLE = {"running": "green", "disconnected": "red", "disabled": "yellow"}


# Parameters from the command line

def parse_params(pairs: list[str] | None) -> dict[str, Any]:
    """`-p key=value` pairs as a dict: values read as JSON when they parse, else as strings;
    dotted keys nest (`strategy.mu=0.1` gives `{"strategy": {"mu": 0.1}}`); a later pair wins."""
    params: dict[str, Any] = {}
    for pair in pairs or []:
        key, sep, raw = pair.partition("=")
        path = key.strip().split(".")
        if not sep or not all(part.strip() for part in path):
            raise InvalidArgument(f"-p {pair!r}: expected key=value (dotted keys nest: strategy.mu=0.1)", field="params")
        try:
            value = json.loads(raw)
        except ValueError:
            value = raw
        node = params
        for depth, part in enumerate(path[:-1]):
            child = node.setdefault(part.strip(), {})
            if not isinstance(child, dict):
                raise InvalidArgument(f"-p {pair!r}: {'.'.join(path[:depth + 1])} is already set to a value, "
                                      "not a group of parameters", field="params")
            node = child
        last = path[-1].strip()
        if isinstance(node.get(last), dict) and not isinstance(value, dict):
            raise InvalidArgument(f"-p {pair!r}: {key.strip()} is a group of parameters, not one value", field="params")
        node[last] = value
    return params


def split_hosts(values: list[str] | None) -> list[str] | None:
    """`--clients A,B --clients C` as `[A, B, C]` (None when not given)."""
    if not values:
        return None
    return [name.strip() for value in values for name in value.split(",") if name.strip()]


# Job files

@dataclass(frozen=True)
class JobFile:
    """A job YAML file: what to run (`tool`), where (`server`, `clients`), with what, under which name."""

    tool: str
    server: str | None = None
    clients: list[str] | None = None
    parameters: dict[str, Any] = field(default_factory=dict)
    name: str | None = None


def load_job_file(path: Path) -> JobFile:
    """Read and check a job file; every problem is one `InvalidArgument` line naming the file."""
    import yaml

    def bad(message: str, key: str = "job_file") -> InvalidArgument:
        return InvalidArgument(f"{path}: {message}", field=key)

    try:
        data = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise bad(exc.strerror or str(exc)) from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise bad(f"not valid YAML{where}: {getattr(exc, 'problem', None) or exc}") from exc
    if not isinstance(data, dict):
        raise bad(f"expected a mapping with the keys {', '.join(JOB_KEYS)}")
    unknown = [str(key) for key in data if key not in JOB_KEYS]
    if unknown:
        raise bad(f"unknown key {unknown[0]!r} (allowed: {', '.join(JOB_KEYS)})", unknown[0])
    tool = data.get("tool")
    if not isinstance(tool, str) or not tool.strip():
        raise bad("missing `tool` (the tool id, e.g. health-check)" if tool is None else "`tool` must be a tool id", "tool")
    for key in ("server", "name"):
        if data.get(key) is not None and not isinstance(data[key], str):
            raise bad(f"`{key}` must be a string", key)
    clients = data.get("clients")
    if isinstance(clients, str):
        clients = split_hosts([clients])
    elif clients is not None and not (isinstance(clients, list) and all(isinstance(c, str) for c in clients)):
        raise bad("`clients` must be a list of host names", "clients")
    parameters = data.get("parameters")
    if parameters is not None and not isinstance(parameters, dict):
        raise bad("`parameters` must be a mapping", "parameters")
    return JobFile(tool=tool.strip(), server=data.get("server"), clients=clients, parameters=parameters or {},
                   name=data.get("name"))


# Submitting

def submit(job: JobFile, *, wait: bool, submit_token: str | None, timeout: float, as_json: bool) -> None:
    """Submit `job`; with `wait`, follow it and fail (exit 1) unless it completes."""
    from fedpe.cli.executions import STATUS_STYLE, follow, print_result

    with open_session() as session:
        job_id = session.submit_job(job.tool, server=job.server, clients=job.clients, params=job.parameters,
                                    submit_token=submit_token)
        if job.name:
            session.rename_job(job_id, job.name)
        if not wait:
            if as_json:
                print_json({"execution_id": job_id, "tool": job.tool})
            else:
                console.print(f"submitted {job.tool}: execution [bold]{job_id}[/bold]")
            return
        if as_json:
            final = session.wait_for_job(job_id, timeout=timeout)
            print_json(final)
        else:
            console.print(f"submitted {job.tool}: execution [bold]{job_id}[/bold]")
            final = follow(session, job_id, timeout=timeout, summary=False)
            style = STATUS_STYLE.get(final.status, "")
            console.print(f"execution {job_id} [{style}]{final.status}[/{style}]")
            print_result(final)
        if final.status != "completed":
            message = final.state_message or final.prefect_state or final.status
            raise ExecutionFailed(f"execution {job_id} {final.status}: {message}",
                                  details={"execution_id": job_id, "status": final.status})


def _kind(prop: dict[str, Any], schema: dict[str, Any]) -> str:
    """A parameter's type in a word: `integer`, `array of string`, `fedavg | fedprox | ...`."""
    if "$ref" in prop:
        target = (schema.get("definitions") or schema.get("$defs") or {}).get(prop["$ref"].rsplit("/", 1)[-1], {})
        name = (target.get("properties") or {}).get("name", {})
        return str(name.get("const") or name.get("default") or prop["$ref"].rsplit("/", 1)[-1])
    if "anyOf" in prop:
        return " | ".join(_kind(p, schema) for p in prop["anyOf"])
    if prop.get("type") == "array":
        return f"array of {_kind(prop.get('items') or {}, schema)}"
    if "enum" in prop:
        return " | ".join(map(str, prop["enum"]))
    return str(prop.get("type") or "-")


def _resources(resources: dict[str, Any]) -> str:
    """`2 cpu, 17.5/25.3G mem` from the usual keys; a few `key=value` otherwise."""
    def gb(value: Any) -> str:
        return f"{value / 1024 ** 3:.1f}G" if isinstance(value, (int, float)) else "?"

    parts = []
    if "cpus" in resources:
        parts.append(f"{resources['cpus']} cpu")
    if "memory_total" in resources:
        parts.append(f"{gb(resources.get('memory_available'))}/{gb(resources['memory_total'])} mem free")
    if resources.get("gpus"):
        parts.append(f"{len(resources['gpus'])} gpu")
    if not parts:
        parts = [f"{k}={v}" for k, v in list(resources.items())[:3] if not isinstance(v, (dict, list))]
    return ", ".join(parts)


def _dataset_name(dataset: Any) -> str:
    return str(dataset.get("name") or dataset.get("id") or dataset) if isinstance(dataset, dict) else str(dataset)


def register(app: typer.Typer) -> None:
    @app.command()
    def hosts(as_json: bool = Json) -> None:
        """The federation's hosts: state, last seen, datasets, resources."""
        with open_session() as session:
            found = session.hosts()
        if as_json:
            print_json(found)
            return
        table = Table("host", "state", "last seen", "datasets", "resources")
        for h in found:
            style = HOST_STYLE.get(h.state, "")
            table.add_row(h.name, f"[{style}]{h.state}[/{style}]" if style else h.state,
                          h.last_seen.strftime("%Y-%m-%d %H:%M:%S") if h.last_seen else "-",
                          ", ".join(_dataset_name(d) for d in h.datasets) or "-", _resources(h.resources) or "-")
        console.print(table)

    @app.command()
    def tools(tool: str = typer.Argument(None, help="Show this tool's parameters."), as_json: bool = Json) -> None:
        """The tools that can be run, or one tool's parameters."""
        with open_session() as session:
            found = session.tool(tool) if tool else session.tools()
        if as_json:
            print_json(found)
            return
        if tool:
            console.print(f"[bold]{found.id}[/bold] ({found.mode or 'tool'}): {found.description}", highlight=False)
            params = Table("parameter", "type", "default", "description")
            schema = found.parameters
            for name, prop in (schema.get("properties") or {}).items():
                kind = _kind(prop, schema)
                required = name in (schema.get("required") or [])
                params.add_row(name + (" *" if required else ""), str(kind),
                               json.dumps(prop["default"]) if "default" in prop else "-", prop.get("description", ""))
            console.print(params)
            return
        table = Table("tool", "mode", "roles", "description")
        for t in found:
            roles = ", ".join(task.role or task.name or task.id for task in t.tasks)
            table.add_row(t.id, t.mode or "-", roles or "-", t.description)
        console.print(table)

    @app.command()
    def run(
        tool: str = typer.Argument(..., help="The tool id: health-check, flcore, fed-stats or pipeline (`fedpe tools` lists them)."),
        server: str = typer.Option(None, "--server", help="Host of the server role (federated tools)."),
        clients: list[str] = typer.Option(None, "--clients", help="Client hosts, comma-separated (single-role tools: the hosts)."),
        param: list[str] = typer.Option(None, "-p", "--param", help="key=value (JSON values; dotted keys nest), repeatable."),
        wait: bool = typer.Option(False, "--wait", help="Follow the execution until it ends; exit 1 unless it completes."),
        submit_token: str = typer.Option(None, "--submit-token", help="Makes resubmitting the same request safe."),
        timeout: float = typer.Option(0, "--timeout", min=0, help="With --wait: give up after this many seconds (0: never)."),
        as_json: bool = Json,
    ) -> None:
        """Run TOOL on the federation."""
        job = JobFile(tool=tool, server=server, clients=split_hosts(clients), parameters=parse_params(param))
        submit(job, wait=wait, submit_token=submit_token, timeout=timeout, as_json=as_json)

    job_app = typer.Typer(help="Run jobs described in files.", no_args_is_help=True)

    @job_app.command("launch")
    def launch(
        job_file: Path = typer.Argument(..., help="YAML with tool, server, clients, parameters, name."),
        wait: bool = typer.Option(False, "--wait", help="Follow the execution until it ends; exit 1 unless it completes."),
        submit_token: str = typer.Option(None, "--submit-token", help="Makes relaunching the same file safe."),
        timeout: float = typer.Option(0, "--timeout", min=0, help="With --wait: give up after this many seconds (0: never)."),
        as_json: bool = Json,
    ) -> None:
        """Submit the job JOB_FILE describes."""
        submit(load_job_file(job_file), wait=wait, submit_token=submit_token, timeout=timeout, as_json=as_json)

    app.add_typer(job_app, name="job")
