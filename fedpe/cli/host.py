"""`fedpe host start` and `fedpe host audit`: join this machine to a federation as a named host,
and read back what ran on it."""

from __future__ import annotations

import json
from pathlib import Path

import typer

app = typer.Typer(help="Run this machine as a host of a federation.", no_args_is_help=True)


@app.command("start")
def start(
    name: str = typer.Option(..., "--name", help="The host's name in the federation (letters, digits, '-', '_', '.')."),
    scheduler: str = typer.Option(..., "--scheduler", help="Address of the federation's Dask scheduler: fedpe://HOST:PORT."),
    data_dir: Path = typer.Option(..., "--data-dir", help="Folder holding this host's datasets."),
    threads: int = typer.Option(4, "--threads", min=1, max=64, help="Worker threads."),
    role_linger: float = typer.Option(30.0, "--role-linger", min=0, max=86400,
                                      help="Seconds the role process stays up after its last role ends, ready for "
                                           "the next (what roles loaded is held that long)."),
    tls_ca_file: Path = typer.Option(None, "--tls-ca-file", help="The federation's CA certificate."),
    tls_cert: Path = typer.Option(None, "--tls-cert", help="This host's certificate, signed by that CA."),
    tls_key: Path = typer.Option(None, "--tls-key", help="This host's private key."),
    policy: Path = typer.Option(None, "--policy", help="This host's policy (YAML): the tools, owners and datasets "
                                                       "it accepts, and its privacy floors."),
) -> None:
    """Start a Dask worker named NAME with the fedpe host runtime; runs until stopped."""
    from fedpe.host.start import start_host

    raise typer.Exit(start_host(name, scheduler, data_dir, nthreads=threads, tls_ca_file=tls_ca_file,
                                tls_cert=tls_cert, tls_key=tls_key, policy=policy, role_linger_s=role_linger))


@app.command("audit")
def audit(
    data_dir: Path = typer.Option(..., "--data-dir", help="The host's data folder (its audit log is under .fedpe/)."),
    as_json: bool = typer.Option(False, "--json", help="One JSON object per line, as stored."),
    verify_only: bool = typer.Option(False, "--verify", help="Only check the hash chain."),
    expect: list[str] = typer.Option([], "--expect", help="A head recorded off the host (SEQ:HASH, from an "
                                                           "execution's audit-head file); repeatable."),
) -> None:
    """Print this host's audit log and verify its hash chain, and the heads recorded off the host (exit 1 when
    it is broken, cut short or rewritten)."""
    from fedpe.cli.console import console, err_console
    from tasks.audit import audit_path, check_head, parse_head, verify

    try:
        heads = [parse_head(h) for h in expect]
    except ValueError as exc:
        err_console.print(f"Error: --expect: {exc}")
        raise typer.Exit(2)
    path = audit_path(data_dir)
    entries, problems = verify(path)
    for head in heads:
        problems += check_head(entries, head)
    if not entries and not path.exists():
        err_console.print(f"Error: no audit log at {path}")
        raise typer.Exit(2)
    if not verify_only:
        for entry in entries:
            if as_json:
                print(json.dumps(entry, sort_keys=True))
            else:
                detail = {k: v for k, v in entry.items() if k not in ("seq", "time", "event", "prev", "hash",
                                                                       "execution_id", "task", "tool", "owner")}
                console.print(f"{entry.get('seq'):>5} {entry.get('time', '')[:19]} {entry.get('event', ''):9} "
                              f"{entry.get('tool', '-')}/{entry.get('task', '-')} {str(entry.get('execution_id', '-'))[:8]} "
                              f"{entry.get('owner', '-')} {json.dumps(detail, default=str)}", highlight=False, soft_wrap=True)
    if problems:
        for problem in problems:
            err_console.print(f"[red]tampered:[/red] {path}: {problem}")
        raise typer.Exit(1)
    (err_console if as_json else console).print(f"{len(entries)} entries; the hash chain holds ({path})")
