"""`fedpe host start`: turn this machine into a host of a federation.

It needs only the scheduler's address (and, for a `tls://` scheduler, the CA, certificate and
key the federation's admin issued): the Prefect API URL and the MLflow URI come from the
federation record that `fedpe up` left in the scheduler's metadata. It checks its input before
it connects, so a typo is one line and exit 2, not a traceback. After its checks it replaces
itself (exec) with a Dask worker nanny of the host's name, so the pid a launcher holds is the
nanny's and ending it stops the worker cleanly.
"""

from __future__ import annotations

import os
import re
import ssl
import sys
from pathlib import Path
from typing import NoReturn
from urllib.parse import urlsplit

from fedpe.errors import HostNotAvailable, InvalidArgument, NoConnection
from fedpe.stack.tls import CertFiles, tls_given
from flows.params import HOST_NAME_PATTERN

#: The flows' rule (no leading punctuation: not an option, not a dot file).
HOST_NAME = re.compile(HOST_NAME_PATTERN)
SCHEMES = ("tcp", "tls")
ADDRESS_HINT = "expected tcp://HOST:PORT or tls://HOST:PORT"


def check_name(name: str, *, option: str = "--name") -> str:
    """Refuse a host name that Dask, the store's paths or a shell would trip on."""
    if not HOST_NAME.fullmatch(name or ""):
        raise InvalidArgument(
            f"{option}: invalid host name {name!r} (letters, digits, '-', '_', '.'; 1-63 characters, "
            "starting with a letter or digit)", field="name")
    return name


def check_address(scheduler: str) -> tuple[str, str, int]:
    """(scheme, host, port) of a scheduler address, refusing anything but tcp:// or tls://HOST:PORT."""
    def bad(why: str) -> InvalidArgument:
        return InvalidArgument(f"--scheduler: {scheduler!r} is not a scheduler address ({why}; {ADDRESS_HINT})",
                               field="scheduler")

    if "://" not in scheduler:
        raise bad("no scheme")
    parts = urlsplit(scheduler)
    if parts.scheme not in SCHEMES:
        raise bad(f"scheme {parts.scheme!r}")
    if parts.username is not None or parts.path or parts.query or parts.fragment:
        raise bad("only HOST:PORT may follow the scheme")
    if not parts.hostname:
        raise bad("no host")
    try:
        port = parts.port
    except ValueError:
        raise bad("the port is not a number from 1 to 65535") from None
    if port is None:
        raise bad("no port")
    if port == 0:
        raise bad("the port is not a number from 1 to 65535")
    return parts.scheme, parts.hostname, port


def check_tls(ca_file: Path | None, cert: Path | None, key: Path | None) -> CertFiles | None:
    """The TLS files of `--tls-ca-file/--tls-cert/--tls-key`: all three or none."""
    given = {"--tls-ca-file": ca_file, "--tls-cert": cert, "--tls-key": key}
    if not tls_given(given, "give --tls-ca-file, --tls-cert and --tls-key together"):
        return None
    # Absolute: the worker this process becomes reads them, whatever its working folder.
    return CertFiles(*(Path(p).expanduser().absolute() for p in (ca_file, cert, key)))


def check_tls_files(tls: CertFiles) -> None:
    """Each file readable, the CA a PEM certificate, the certificate and key a matching PEM pair."""
    for opt, path in (("--tls-ca-file", tls.ca_file), ("--tls-cert", tls.cert), ("--tls-key", tls.key)):
        try:
            with open(path, "rb") as fh:
                fh.read(1)
        except OSError as exc:
            raise InvalidArgument(f"{opt}: cannot read {path}: {exc.strerror or exc}", field=_field(opt)) from None
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    try:
        context.load_verify_locations(cafile=str(tls.ca_file))
    except (ssl.SSLError, ValueError) as exc:
        raise InvalidArgument(f"--tls-ca-file: {tls.ca_file} holds no PEM certificate ({exc})",
                              field="tls_ca_file") from None
    try:
        # No password: Dask loads the key without one, and OpenSSL must not prompt for it here.
        context.load_cert_chain(str(tls.cert), str(tls.key), password=lambda: b"")
    except (ssl.SSLError, ValueError) as exc:
        raise InvalidArgument(f"--tls-cert/--tls-key: {tls.cert} and {tls.key} are not a PEM certificate and "
                              f"its unencrypted key ({exc})", field="tls_cert") from None


def check_inputs(name: str, scheduler: str, data_dir: Path, tls: CertFiles | None = None) -> None:
    """Every check that needs no server: name, address, data folder, TLS files and scheme."""
    check_name(name)
    scheme, _host, _port = check_address(scheduler)
    if not data_dir.is_dir():
        raise InvalidArgument(f"--data-dir: {data_dir} is not a folder", field="data_dir")
    if tls is not None:
        check_tls_files(tls)
    if scheme == "tls" and tls is None:
        raise InvalidArgument("--scheduler: a tls:// scheduler needs --tls-ca-file, --tls-cert and --tls-key",
                              field="scheduler")
    if scheme == "tcp" and tls is not None:
        raise InvalidArgument("--tls-ca-file/--tls-cert/--tls-key: given, but the scheduler address is tcp://; "
                              "use its tls:// address", field="scheduler")


def _field(option: str) -> str:
    return option.removeprefix("--").replace("-", "_")


def preflight(
    name: str, scheduler: str, data_dir: Path, *, tls: CertFiles | None = None, timeout_s: float = 5.0
) -> dict:
    """Check that the host can join; return the federation record the scheduler holds."""
    check_inputs(name, scheduler, data_dir, tls)
    from fedpe.stack.tls import client_security
    from tasks.hosts import FEDERATION_METADATA_KEY, connected_hosts

    client = _connect(scheduler, client_security(tls), timeout_s)
    try:
        if name in connected_hosts(client):
            raise HostNotAvailable(f"--name: a host named {name!r} is already connected to {scheduler}", field="name")
        return dict(client.get_metadata([FEDERATION_METADATA_KEY], default={}) or {})
    finally:
        client.close()


def _connect(scheduler: str, security, timeout_s: float):
    """A client of the scheduler, or NoConnection in one line.

    A bare comm dials first: a Client whose constructor fails still closes itself when it is
    collected, and at exit that prints a TimeoutError traceback of its own (seen with a
    tls:// address and no certificates). The probe fails alone, quietly.
    """
    import asyncio

    from distributed import Client, Security
    from distributed.comm import connect

    async def dial() -> None:
        comm = await connect(scheduler, timeout=timeout_s, **(security or Security()).get_connection_args("client"))
        await comm.close()

    try:
        asyncio.run(dial())
        return Client(scheduler, timeout=f"{timeout_s}s", set_as_default=False, security=security)
    except Exception as exc:  # OSError, TimeoutError, ssl errors: all say "cannot reach"
        reason = " ".join(str(exc).split()) or type(exc).__name__
        hint = ""
        if security is not None and ("SSL" in reason or "TLS" in reason):
            hint = " (the scheduler and this host must hold certificates of the same federation CA)"
        raise NoConnection(f"cannot reach the Dask scheduler at {scheduler}: {reason}{hint}") from None


def worker_env(name: str, data_dir: Path, federation: dict, *, tls: bool = False) -> dict[str, str]:
    """The environment of the host's worker: the federation's URLs and one BLAS thread per role."""
    env = dict(os.environ)
    env.update({
        "FEDPE_HOST_NAME": name,
        "FEDPE_HOST_DATA_DIR": str(data_dir.resolve()),
        # Roles are threads of one worker process; BLAS threads would fight over the cores.
        "OMP_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    })
    if tls:
        # Every comm of this worker (to the scheduler, to other hosts, its listener) is TLS.
        env["DASK_DISTRIBUTED__COMM__REQUIRE_ENCRYPTION"] = "True"
    for key, var in (("prefect_api_url", "PREFECT_API_URL"), ("mlflow_tracking_uri", "MLFLOW_TRACKING_URI")):
        if federation.get(key):
            env[var] = federation[key]
    if "PREFECT_API_URL" not in env:
        # Without it, any Prefect client call on the worker would start a throwaway server.
        raise NoConnection("the federation gave no Prefect API URL and PREFECT_API_URL is not set")
    return env


def start_host(
    name: str, scheduler: str, data_dir: Path, *, nthreads: int = 4,
    tls_ca_file: Path | None = None, tls_cert: Path | None = None, tls_key: Path | None = None,
) -> NoReturn:
    """Run the checks, then exec the Dask worker nanny for this host."""
    tls = check_tls(tls_ca_file, tls_cert, tls_key)
    federation = preflight(name, scheduler, data_dir, tls=tls)
    env = worker_env(name, data_dir, federation, tls=tls is not None)
    argv = [
        sys.executable, "-m", "distributed.cli.dask_worker", scheduler,
        "--name", name, "--nworkers", "1", "--nthreads", str(nthreads),
        "--preload", "fedpe.host.preload", "--no-dashboard",
        "--death-timeout", "60",
        *(tls.cli_args() if tls else []),
    ]
    os.execve(sys.executable, argv, env)
