"""`fedpe host start`: turn this machine into a host of a federation.

It needs the scheduler's `fedpe://` address, the CA, certificate and key the federation's admin
issued (`fedpe tls issue-host`), a data folder and, optionally, the host's policy: nothing of
Prefect, MLflow or the store, whose credentials stay with the coordinator. It checks its input
before it connects, so a typo is one line and exit 2, not a traceback; then it runs a Dask
worker named after the host (no nanny) and starts it again when it exits on its own, for
example after a lost link outlived the worker's death timeout. Ending this process's pid
stops the worker cleanly.
"""

from __future__ import annotations

import os
import ssl
import sys
from pathlib import Path
from urllib.parse import urlsplit

from fedpe.errors import HostNotAvailable, InvalidArgument, NoConnection
from fedpe.host.names import check_name
from fedpe.stack.tls import CertFiles, tls_given

#: fedpe:// is the federation's transport (tasks/wire/transport.py); tls:// is the same bytes on
#: the wire, so an address written that way is taken as fedpe://, whose reads are strict.
SCHEMES = ("fedpe", "tls")
ADDRESS_HINT = "expected fedpe://HOST:PORT"


def check_address(scheduler: str) -> tuple[str, str, int]:
    """("fedpe", host, port) of a scheduler address, refusing anything but fedpe://HOST:PORT."""
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
    return "fedpe", parts.hostname, port


def scheduler_url(scheduler: str) -> str:
    """The checked address as the worker dials it: always fedpe://."""
    _, host, port = check_address(scheduler)
    return f"fedpe://[{host}]:{port}" if ":" in host else f"fedpe://{host}:{port}"


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


def check_inputs(name: str, scheduler: str, data_dir: Path, tls: CertFiles | None = None,
                 policy: Path | None = None) -> None:
    """Every check that needs no server: name, address, data folder, TLS files, policy."""
    check_name(name)
    check_address(scheduler)
    if not data_dir.is_dir():
        raise InvalidArgument(f"--data-dir: {data_dir} is not a folder", field="data_dir")
    if tls is None:
        raise InvalidArgument("--tls-ca-file, --tls-cert, --tls-key: the scheduler speaks mutual TLS only; give the "
                              "files `fedpe tls issue-host` wrote", field="tls_ca_file")
    check_tls_files(tls)
    check_cert_name(tls, name)
    if policy is not None:
        from tasks.policy import load_policy

        load_policy(policy)


def check_cert_name(tls: CertFiles, name: str) -> None:
    """The certificate must be this host's: the scheduler refuses a worker whose CN is not its name."""
    from cryptography import x509

    cert = x509.load_pem_x509_certificate(tls.cert.read_bytes())
    cn = cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
    if not cn or cn[0].value != name:
        raise InvalidArgument(f"--tls-cert: {tls.cert} is the certificate of {cn[0].value if cn else 'no name'!r}, "
                              f"not of host {name!r} (issue one with `fedpe tls issue-host {name}`)", field="tls_cert")


def _field(option: str) -> str:
    return option.removeprefix("--").replace("-", "_")


def preflight(name: str, scheduler: str, data_dir: Path, *, tls: CertFiles | None = None,
              policy: Path | None = None, timeout_s: float = 5.0) -> None:
    """Check that the host can join: its input, then the scheduler (reachable, no host of this name)."""
    check_inputs(name, scheduler, data_dir, tls, policy)
    from fedpe.stack.tls import client_security

    workers = _scheduler_identity(scheduler_url(scheduler), client_security(tls), timeout_s).get("workers", {})
    if name in {str(info.get("name")) for info in workers.values()}:
        raise HostNotAvailable(f"--name: a host named {name!r} is already connected to {scheduler}", field="name")


def _scheduler_identity(scheduler: str, security, timeout_s: float) -> dict:
    """The scheduler's `identity` over one bare comm (a host may not register as a client), or NoConnection."""
    import asyncio

    from distributed.comm import connect

    async def ask() -> dict:
        comm = await connect(scheduler, timeout=timeout_s, **security.get_connection_args("client"))
        try:
            await comm.write({"op": "identity", "reply": True})
            return await asyncio.wait_for(comm.read(), timeout_s)
        finally:
            await comm.close()

    try:
        answer = asyncio.run(ask())
    except Exception as exc:  # OSError, TimeoutError, ssl errors: all say "cannot reach"
        reason = " ".join(str(exc).split()) or type(exc).__name__
        hint = ""
        if "SSL" in reason or "TLS" in reason:
            hint = " (the scheduler and this host must hold certificates of the same federation CA)"
        raise NoConnection(f"cannot reach the Dask scheduler at {scheduler}: {reason}{hint}") from None
    if not isinstance(answer, dict):
        raise NoConnection(f"the Dask scheduler at {scheduler} refused this host: {answer!r}"[:300])
    return answer


#: What a host's worker keeps of the environment it was started from: nothing secret.
KEPT_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR", "USER", "LOGNAME", "VIRTUAL_ENV",
            "PYTHONPATH", "PYTHONUNBUFFERED")


def worker_env(name: str, data_dir: Path, policy: Path | None = None,
               source: dict[str, str] | None = None, role_linger_s: float | None = None) -> dict[str, str]:
    """The environment of the host's worker: where its data and policy are, and one BLAS thread per role.

    Only `KEPT_ENV` passes from the starting environment (a worker that runs tools must hold
    no credential it was not meant to have), plus the Dask settings it needs.
    """
    from fedpe.dask_settings import IDLE

    source = os.environ if source is None else source
    env = {k: source[k] for k in KEPT_ENV if k in source}
    env.update(IDLE)  # an idle host idles (fedpe/dask_settings.py)
    env.update({
        "FEDPE_HOST_NAME": name,
        "FEDPE_HOST_DATA_DIR": str(data_dir.resolve()),
        # Roles are threads of one role process; BLAS threads would fight over the cores.
        "OMP_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        # Every comm of this worker (to the scheduler, to other hosts, its listener) is TLS.
        "DASK_DISTRIBUTED__COMM__REQUIRE_ENCRYPTION": "True",
        # Dask's HTTP pages (metrics, health) would answer anyone unauthenticated: none at all.
        "DASK_DISTRIBUTED__WORKER__HTTP__ROUTES": "[]",
    })
    if policy is not None:
        env["FEDPE_HOST_POLICY"] = str(Path(policy).resolve())
    if role_linger_s is not None:
        env["FEDPE_ROLE_LINGER_S"] = str(role_linger_s)  # tasks/host/role_process.py
    return env


def contact_host(scheduler: str) -> str:
    """The address of this machine's interface toward the scheduler: what the worker is known by."""
    from distributed.utils import get_ip

    _, host, _ = check_address(scheduler)
    return get_ip(host)


def worker_argv(name: str, scheduler: str, tls: CertFiles, nthreads: int, *, supervised: bool = False) -> list[str]:
    """The host's Dask worker: it dials the scheduler and listens on its own loopback only.

    Hosts only dial out: the worker's role calls come over its line to the relay and its tasks
    over its own connection to the scheduler, so nothing needs to reach it. Dask still wants a
    listener and a unique contact address: it listens on 127.0.0.1 and is known by this
    machine's address toward the scheduler with that port, where nothing answers. `supervised`:
    the port is left for the supervisor to choose at each start (fedpe/host/supervisor.py), so
    a port taken meanwhile never keeps a host from coming back. The command is Dask's own `dask
    worker`, run by `fedpe.host.worker`, which ends the process without Python's finalisation.
    """
    from fedpe.host.supervisor import FREE_PORT, free_loopback_port

    port = FREE_PORT if supervised else free_loopback_port()
    return [
        sys.executable, "-m", "fedpe.host.worker", scheduler_url(scheduler),
        "--name", name, "--nthreads", str(nthreads), "--no-nanny",
        "--listen-address", f"fedpe://127.0.0.1:{port}", "--contact-address", f"fedpe://{contact_host(scheduler)}:{port}",
        "--preload", "fedpe.host.preload", "--no-dashboard", "--dashboard-address", "127.0.0.1:0",
        "--death-timeout", "60",
        *tls.cli_args(),
    ]


def start_host(
    name: str, scheduler: str, data_dir: Path, *, nthreads: int = 4,
    tls_ca_file: Path | None = None, tls_cert: Path | None = None, tls_key: Path | None = None,
    policy: Path | None = None, role_linger_s: float | None = None,
) -> int:
    """Run the checks, then the host's worker until this process is told to stop."""
    tls = check_tls(tls_ca_file, tls_cert, tls_key)
    preflight(name, scheduler, data_dir, tls=tls, policy=policy)
    from fedpe.host.supervisor import become

    become(worker_argv(name, scheduler, tls, nthreads, supervised=True),
           worker_env(name, data_dir, policy, role_linger_s=role_linger_s))
    return 0  # not reached: the process is the supervisor now
