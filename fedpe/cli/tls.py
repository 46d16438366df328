"""`fedpe tls issue-host` and `fedpe tls revoke`: the hosts an admin lets in, and takes out again."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from fedpe.cli.options import Home, Json, resolve_home

app = typer.Typer(help="The federation's TLS certificates (mutual TLS between the scheduler and its hosts).",
                  no_args_is_help=True)


@app.command("issue-host")
def issue_host(
    name: str = typer.Argument(..., help="The host's name, as it will pass it to `fedpe host start --name`."),
    out: Path = typer.Option(..., "--out", help="Folder to write ca.pem, NAME.pem and NAME-key.pem into."),
    san: list[str] = typer.Option(None, "--san", help="Another DNS name or IP address of the host (repeatable)."),
    home: Path = Home,
    as_json: bool = Json,
) -> None:
    """Sign a certificate and key for host NAME with the federation CA (made if FEDPE_HOME has none)."""
    from fedpe.cli.console import console
    from fedpe.stack.launcher import Stack
    from fedpe.stack.tls import issue_host_cert, tls_files

    home = resolve_home(home)
    new_ca = not tls_files(home).ca_file.exists()
    files = issue_host_cert(home, name, out, sans=san or ())
    stack = Stack.load(home)
    scheduler = stack.config.scheduler_address if stack else "fedpe://SCHEDULER-HOST:8786"
    if as_json:
        print(json.dumps({"name": name, "ca_file": str(files.ca_file), "cert": str(files.cert), "key": str(files.key),
                          "new_ca": new_ca}))
        return
    if new_ca:
        console.print(f"made a new federation CA in {tls_files(home).dir}")
    console.print(f"host [bold]{name}[/bold]: certificate and key signed by the federation CA", highlight=False)
    for label, path in (("CA", files.ca_file), ("certificate", files.cert), ("key (0600)", files.key)):
        print(f"  {label:12} {path}")
    console.print("hand these to the host, which joins with:", highlight=False)
    print(f"  fedpe host start --name {name} --scheduler {scheduler} --data-dir DATA_DIR "
          f"--tls-ca-file {files.ca_file.name} --tls-cert {files.cert.name} --tls-key {files.key.name}")


@app.command("revoke")
def revoke(
    name: str = typer.Argument(..., help="The host whose certificates to withdraw."),
    home: Path = Home,
    as_json: bool = Json,
) -> None:
    """Withdraw every certificate the federation CA issued to host NAME; the scheduler drops it at once
    and refuses it from then on (a new `issue-host` gives it a certificate that works again)."""
    from fedpe.cli.console import console
    from fedpe.stack.tls import revoke_host

    serials = revoke_host(resolve_home(home), name)
    if as_json:
        print(json.dumps({"name": name, "revoked": serials}))
        return
    console.print(f"host [bold]{name}[/bold]: {len(serials)} certificate(s) revoked ({', '.join(serials)}); "
                  "the scheduler drops the host within seconds", highlight=False)
