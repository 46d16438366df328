"""`fedpe host start`: join this machine to a federation as a named host."""

from __future__ import annotations

from pathlib import Path

import typer

from fedpe.errors import FedpeError

app = typer.Typer(help="Run this machine as a host of a federation.", no_args_is_help=True)


@app.command("start")
def start(
    name: str = typer.Option(..., "--name", help="The host's name in the federation (letters, digits, '-', '_', '.')."),
    scheduler: str = typer.Option(..., "--scheduler",
                                  help="Address of the federation's Dask scheduler: tcp://HOST:PORT or tls://HOST:PORT."),
    data_dir: Path = typer.Option(..., "--data-dir", help="Folder holding this host's datasets."),
    threads: int = typer.Option(4, "--threads", min=1, max=64, help="Worker threads (roles are threads)."),
    tls_ca_file: Path = typer.Option(None, "--tls-ca-file", help="The federation's CA certificate (tls:// only)."),
    tls_cert: Path = typer.Option(None, "--tls-cert", help="This host's certificate, signed by that CA."),
    tls_key: Path = typer.Option(None, "--tls-key", help="This host's private key."),
) -> None:
    """Start a Dask worker named NAME with the fedpe host agent; runs until stopped."""
    from fedpe.host.start import start_host

    start_host(name, scheduler, data_dir, nthreads=threads, tls_ca_file=tls_ca_file, tls_cert=tls_cert,
               tls_key=tls_key)
    raise FedpeError("host exited")  # start_host execs; reaching here is a bug
