"""`fedpe up`, `down`, `status`, `env`, `demo`: the local federation's lifecycle."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Literal

import typer
from rich.table import Table

from fedpe.cli.console import console, err_console
from fedpe.cli.options import Home, Json, resolve_home


def _config(home, hosts, partition, alpha, seed, prefect_port, scheduler_port, dashboard_port, mlflow_port, api_port,
            store, runner_limit, netns=False, netem=None, missing=0.0):
    from fedpe.stack.config import StackConfig

    return StackConfig(
        home=resolve_home(home), hosts=hosts, partition=partition, alpha=alpha, seed=seed,
        prefect_port=prefect_port, scheduler_port=scheduler_port, dashboard_port=dashboard_port,
        mlflow_port=mlflow_port, api_port=api_port, store_url=store, runner_limit=runner_limit,
        netns=netns, netem=netem, missing=missing,
    )


def start_stack(config):
    """`up` with a live status line; returns the running stack."""
    from fedpe.stack import launcher

    with console.status("starting the federation") as status:
        stack = launcher.up(config, progress=lambda msg: status.update(f"[bold]fedpe up[/bold]: {msg}"))
    return stack


def print_urls(stack) -> None:
    table = Table(title=f"fedpe is up ({stack.ready_s} s)", show_header=False)
    for key, url in stack.urls().items():
        table.add_row(key, url)
    from fedpe.stack.secrets import MLFLOW_ADMIN, PREFECT_USER, secrets_file
    from fedpe.stack.tls import tls_files

    table.add_row("scheduler", f"{stack.config.scheduler_address} (mutual TLS; certificates in "
                               f"{tls_files(stack.config.home).dir})")
    table.add_row("hosts", ", ".join(stack.hosts))
    table.add_row("sign-in", f"Prefect UI: {PREFECT_USER} / MLflow UI: {MLFLOW_ADMIN}, passwords in "
                             f"{secrets_file(stack.config.home)}; `fedpe env` exports them for Python")
    console.print(table)


def print_first_admin(stack) -> None:
    """On a new FEDPE_HOME, make the first admin (the deployments' owner) and print its password once."""
    from rich.markup import escape

    from fedpe.auth import UserStore

    name = stack.config.owner
    password = UserStore(stack.config.home).ensure_first_admin(name)
    if password:
        console.print(f"first admin: [bold]{escape(name)}[/bold], password [bold]{escape(password)}[/bold] "
                      f"(shown once; `fedpe users password {escape(name)}` sets another)", highlight=False)


def _watch(stack) -> None:
    """Wait in the foreground; stop everything on Ctrl-C or when a process dies."""
    from fedpe.stack import launcher

    try:
        while True:
            dead = [c.name for c in stack.children if not c.alive()]
            if dead:
                err_console.print(f"[red]stopped unexpectedly:[/red] {', '.join(dead)} (logs in {stack.config.home / 'logs'})")
                break
            time.sleep(1)
    except KeyboardInterrupt:
        console.print("stopping…")
    finally:
        launcher.down(stack.config.home)
        console.print("every process fedpe started is stopped")


def up(
    home: Path = Home,
    hosts: int = typer.Option(3, "--hosts", min=1, max=64, help="Number of demo hosts."),
    partition: str = typer.Option("iid", "--partition", help="iid or dirichlet (label skew)."),
    alpha: float = typer.Option(0.5, "--alpha", min=0.0001, help="Dirichlet concentration (smaller = more skew)."),
    seed: int = typer.Option(0, "--seed", help="Seed of the demo data split."),
    prefect_port: int = typer.Option(4200, "--prefect-port"),
    scheduler_port: int = typer.Option(8786, "--scheduler-port"),
    dashboard_port: int = typer.Option(8787, "--dashboard-port"),
    mlflow_port: int = typer.Option(5000, "--mlflow-port"),
    api_port: int = typer.Option(8000, "--api-port"),
    store: str = typer.Option(None, "--store", help="fsspec URL of the output store (default: file://FEDPE_HOME/store)."),
    runner_limit: int = typer.Option(4, "--runner-limit", min=1, help="Flow runs executed at once."),
    netns: bool = typer.Option(False, "--netns", help="Each demo host in a network namespace of its own, reaching "
                                                      "the scheduler over a bridge as from another machine (root)."),
    netem: str = typer.Option(None, "--netem", help="With --netns: tc netem arguments for every host link, "
                                                    "e.g. 'delay 20ms loss 1%'."),
    missing: float = typer.Option(0.0, "--missing", min=0.0, max=0.5,
                                  help="Blank this share of the demo data's cells and add a categorical column."),
    detach: bool = typer.Option(False, "--detach", help="Leave the processes running and return."),
) -> None:
    """Start Prefect, the Dask scheduler, the demo hosts, the runner, MLflow and the API."""
    if partition not in ("iid", "dirichlet"):
        raise typer.BadParameter("must be iid or dirichlet", param_hint="--partition")
    if netem and not netns:
        raise typer.BadParameter("needs --netns (netem shapes the hosts' own links)", param_hint="--netem")
    config = _config(home, hosts, partition, alpha, seed, prefect_port, scheduler_port, dashboard_port,
                     mlflow_port, api_port, store, runner_limit, netns, netem, missing)
    stack = start_stack(config)
    print_urls(stack)
    print_first_admin(stack)
    if detach:
        console.print("running in the background; stop with [bold]fedpe down[/bold]")
        return
    console.print("press Ctrl-C to stop")
    _watch(stack)

def down(home: Path = Home) -> None:
    """Stop every process `fedpe up` started (hosts first)."""
    from fedpe.stack import launcher

    stopped = launcher.down(resolve_home(home))
    console.print(f"stopped: {', '.join(stopped)}" if stopped else "nothing was running")

def status(home: Path = Home, as_json: bool = Json) -> None:
    """Say what runs where: processes, URLs, scheduler address, hosts."""
    from fedpe.stack import launcher

    info = launcher.status(resolve_home(home))
    if as_json:
        print(json.dumps(info, indent=2))
        return
    if not info["processes"]:
        console.print(f"no stack under {info['home']}")
        raise typer.Exit(1)
    table = Table("process", "pid", "state")
    for p in info["processes"]:
        table.add_row(p["name"], str(p["pid"]), "[green]running[/green]" if p["alive"] else "[red]stopped[/red]")
    console.print(table)
    for key, url in info.get("urls", {}).items():
        console.print(f"{key:15} {url}")
    console.print(f"{'scheduler':15} {info.get('scheduler')}")
    for host, h in info["hosts"].items():
        console.print(f"host {host:10} {'connected' if h['connected'] else 'disconnected'}")

def env(home: Path = Home) -> None:
    """Print the export lines a Python caller of run_deployment needs (eval "$(fedpe env)"),
    the services' credentials included: keep its output to yourself."""
    from fedpe.stack.launcher import Stack

    stack = Stack.load(resolve_home(home))
    if stack is None:
        err_console.print("no stack found: run `fedpe up` first")
        raise typer.Exit(1)
    import shlex

    for key, value in stack.env(with_secrets=True).items():
        print(f"export {key}={shlex.quote(value)}")

def demo(
    home: Path = Home,
    hosts: int = typer.Option(3, "--hosts", min=1, max=64),
    rounds: int = typer.Option(20, "--rounds", min=1, max=1000),
    keep: bool = typer.Option(False, "--keep", help="Leave the federation running afterwards."),
    missing: float = typer.Option(0.1, "--missing", min=0.0, max=0.5,
                                  help="Blank this share of the demo cells and add a categorical column, as "
                                       "clinical tables are (0: the clean shards)."),
) -> None:
    """`fedpe up`, then the richest tool on the demo hosts through run_deployment, then stop."""
    import os

    from fedpe.cli.demo import run_demo
    from fedpe.stack.environments import caller
    from fedpe.stack.secrets import ensure_secrets

    config = _config(home, hosts, "iid", 0.5, 0, 4200, 8786, 8787, 5000, 8000, None, 4, missing=missing)
    # This process calls run_deployment as a user would after `fedpe env`; Prefect reads its
    # settings once, when first imported, so they go in before anything imports it.
    os.environ.update(caller(config, ensure_secrets(config.home)))
    stack = start_stack(config)
    print_urls(stack)
    print_first_admin(stack)
    try:
        run_demo(stack, rounds=rounds, missing=missing)
    finally:
        if not keep:
            from fedpe.stack import launcher

            launcher.down(stack.config.home)
            console.print("every process fedpe started is stopped")


def register(app: typer.Typer) -> None:
    """The local federation's commands, at the top level of `fedpe`."""
    for command in (up, down, status, env, demo):
        app.command()(command)
