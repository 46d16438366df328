"""The federation's certificates: one CA, the scheduler's, the coordinator's, and one per host.

Hospitals join over real networks, so the scheduler and every party that talks to it
(hosts, the runner's flows, the API, the CLI) authenticate each other with certificates that
one federation CA signed: mutual TLS, always (plain TCP is refused). `distributed.Security`
checks the chain to the CA on both ends and not the host names (it turns `check_hostname`
off); who a peer *is* comes from its certificate's CN, which the scheduler's and the hosts'
guards read (tasks/wire/identity.py): `fedpe-scheduler`, `fedpe-coordinator`, or the host's
own name.

Files, under `{FEDPE_HOME}/tls/` (keys 0600, the folder 0700)::

    ca.pem, ca-key.pem                    the federation CA
    scheduler.pem, scheduler-key.pem      the scheduler's certificate
    coordinator.pem, coordinator-key.pem  what the launcher, the runner, the API and the admin CLI present
    hosts/<name>/                         the demo hosts' files (ca.pem, <name>.pem, <name>-key.pem)
    issued.json                           every certificate the CA signed: serial, name, validity
    revoked.json                          serials `fedpe tls revoke` withdrew, with names and times
    crl.pem                               the same serials as the CA's signed CRL: TLS refuses them
                                          in the handshake (tasks/wire/revocation.py)

`ensure_federation_tls` makes what is missing and keeps what is still good; an existing CA is
never replaced behind the admin's back, since every host certificate handed out hangs on it.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Mapping

from fedpe.errors import InvalidArgument, StackError
from fedpe.stack.private import private_dir, write_file
from tasks.wire.identity import COORDINATOR_CN, SCHEDULER_CN, normal_serial

if TYPE_CHECKING:
    import distributed

__all__ = [
    "CertFiles", "TlsFiles", "client_security", "ensure_federation_tls", "files_from_env", "issue_host_cert",
    "revoke_host", "revoked_serials", "security_from_env", "tls_files",
]

TLS_DIR = "tls"
CA_VALIDITY = dt.timedelta(days=3650)
CERT_VALIDITY = dt.timedelta(days=825)
#: A certificate that expires sooner than this is issued again rather than reused.
RENEW_BEFORE = dt.timedelta(days=7)
LOCAL_NAMES = ("127.0.0.1", "localhost")

#: How a process without a Federation block is told which client certificate to present.
ENV_CA_FILE, ENV_CERT, ENV_KEY = "FEDPE_TLS_CA_FILE", "FEDPE_TLS_CERT", "FEDPE_TLS_KEY"


@dataclass(frozen=True)
class CertFiles:
    """What one party of the federation holds: the CA it trusts, its certificate and its key."""

    ca_file: Path
    cert: Path
    key: Path

    def cli_args(self) -> list[str]:
        """The `--tls-*` options of `dask scheduler`, `dask worker` and `fedpe host start`."""
        return ["--tls-ca-file", str(self.ca_file), "--tls-cert", str(self.cert), "--tls-key", str(self.key)]

    def env(self) -> dict[str, str]:
        """The FEDPE_TLS_* variables `security_from_env` reads."""
        return {ENV_CA_FILE: str(self.ca_file), ENV_CERT: str(self.cert), ENV_KEY: str(self.key)}


@dataclass(frozen=True)
class TlsFiles:
    """The files `fedpe up --tls` uses, all under `{home}/tls/`."""

    dir: Path
    ca_file: Path
    ca_key: Path
    scheduler: CertFiles
    coordinator: CertFiles

    def host_dir(self, name: str) -> Path:
        return self.dir / "hosts" / name

    @property
    def issued(self) -> Path:
        return self.dir / "issued.json"

    @property
    def revoked(self) -> Path:
        return self.dir / "revoked.json"

    @property
    def crl(self) -> Path:
        return self.dir / "crl.pem"

    def crl_env(self) -> dict[str, str]:
        """The variable that makes a listener's fedpe comms (the scheduler's) check peers against the CRL."""
        from tasks.wire.revocation import ENV_CRL

        return {ENV_CRL: str(self.crl)}


def tls_files(home: Path) -> TlsFiles:
    """Where the federation's TLS files of `home` live (nothing is created)."""
    base = Path(home) / TLS_DIR
    ca = base / "ca.pem"
    return TlsFiles(
        dir=base, ca_file=ca, ca_key=base / "ca-key.pem",
        scheduler=CertFiles(ca, base / "scheduler.pem", base / "scheduler-key.pem"),
        coordinator=CertFiles(ca, base / "coordinator.pem", base / "coordinator-key.pem"),
    )


def ensure_federation_tls(home: Path, bind: str = "127.0.0.1", extra_names: Iterable[str] = ()) -> TlsFiles:
    """Make the CA, the scheduler's and the coordinator's certificates where missing; reuse good ones.

    Both leaf certificates name 127.0.0.1, localhost and `bind`. A certificate is issued
    again when it is not the CA's, expires within RENEW_BEFORE, lacks one of those names or
    has been revoked.
    """
    files = tls_files(home)
    ca_cert, ca_key = _ensure_ca(files)
    names = _unique([*LOCAL_NAMES, bind, *extra_names])
    for common_name, pair in ((SCHEDULER_CN, files.scheduler), (COORDINATOR_CN, files.coordinator)):
        if not _reusable(pair, ca_cert, names, common_name, files):
            _issue(pair, common_name, names, ca_cert, ca_key, files)
    if not files.crl.exists():  # a context that checks CRLs refuses every peer until the CA has one
        write_crl(files, ca_cert, ca_key)
    return files


def issue_host_cert(
    home: Path, name: str, out_dir: Path, *, sans: Iterable[str] = (), reuse: bool = False
) -> CertFiles:
    """Mint a certificate and key for host `name`, signed by the federation CA, into `out_dir`.

    `out_dir` gets `ca.pem` (a copy of the CA certificate), `<name>.pem` and `<name>-key.pem`:
    everything `fedpe host start --tls-*` needs, so an admin can hand a hospital one folder.
    The CA is made if `home` has none yet. With `reuse`, a still-good certificate is kept.
    """
    from fedpe.host.names import check_name

    check_name(name, option="NAME")
    files = tls_files(home)
    out_dir = Path(out_dir).expanduser().resolve()
    if out_dir == files.dir.resolve():
        raise InvalidArgument(f"--out: {out_dir} holds the federation CA itself; choose another folder", field="out")
    ca_cert, ca_key = _ensure_ca(files)
    private_dir(out_dir)
    pair = CertFiles(out_dir / "ca.pem", out_dir / f"{name}.pem", out_dir / f"{name}-key.pem")
    write_file(pair.ca_file, files.ca_file.read_bytes(), private=False)
    names = _unique([name, *sans])
    if not (reuse and _reusable(pair, ca_cert, names, name, files)):
        _issue(pair, name, names, ca_cert, ca_key, files)
    return pair


def revoked_serials(home: Path) -> set[str]:
    """Serials (normalised hex) of the certificates `revoke_host` withdrew."""
    return set(_read_json(tls_files(home).revoked, {}).get("serials", {}))


def revoke_host(home: Path, name: str) -> list[str]:
    """Withdraw every certificate the CA issued to host `name`; returns their serials.

    The scheduler refuses a revoked certificate on its next connection, and the hosts refuse
    it as a peer once their agents read the list from the federation record. A new
    `issue-host` for the same name gives a certificate that works again.
    """
    from fedpe.host.names import check_name

    check_name(name, option="NAME")
    files = tls_files(home)
    issued = _read_json(files.issued, {})
    serials = sorted(s for s, entry in issued.items() if entry.get("name") == name)
    if not serials:
        raise InvalidArgument(f"NAME: the federation CA in {files.dir} issued no certificate to host {name!r}",
                              field="name")
    revoked = _read_json(files.revoked, {"serials": {}})
    for serial in serials:
        revoked["serials"].setdefault(serial, {"name": name, "revoked_at": _now().isoformat()})
    write_file(files.revoked, json.dumps(revoked, indent=2).encode(), private=False)
    write_crl(files, *_ensure_ca(files))
    return serials


def write_crl(files: TlsFiles, ca_cert, ca_key) -> Path:
    """Write the CA's CRL of every revoked serial, dated strictly after the one it replaces.

    OpenSSL picks the CRL with the latest `lastUpdate` among those a context holds, to the
    second, and skips one dated in the future: a second revocation within the same second
    waits for the next one. The first CRL is dated a minute back, so the first revocation never
    waits.
    """
    import time

    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    now = _now().replace(microsecond=0)
    try:
        previous = x509.load_pem_x509_crl(files.crl.read_bytes()).last_update_utc
    except (OSError, ValueError):
        now -= dt.timedelta(minutes=1)
    else:
        if previous >= now:
            time.sleep((previous + dt.timedelta(seconds=1) - _now()).total_seconds() + 0.01)
            now = previous + dt.timedelta(seconds=1)
    builder = (x509.CertificateRevocationListBuilder().issuer_name(ca_cert.subject)
               .last_update(now).next_update(now + CA_VALIDITY))
    for serial, entry in sorted(_read_json(files.revoked, {"serials": {}}).get("serials", {}).items()):
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder().serial_number(int(serial, 16))
            .revocation_date(dt.datetime.fromisoformat(entry["revoked_at"]) if entry.get("revoked_at") else now)
            .build())
    crl = builder.sign(ca_key, _hash())
    write_file(files.crl, crl.public_bytes(serialization.Encoding.PEM), private=False)
    return files.crl


def client_security(files: CertFiles | None) -> "distributed.Security | None":
    """The Dask Security for a client presenting `files`; None for plain TCP.

    Built by the same function as `Federation.security()`, so every client of the federation
    requires encryption the same way; without importing Prefect (blocks/security.py).
    """
    if files is None:
        return None
    from blocks.security import tls_security

    return tls_security(files.ca_file, files.cert, files.key)


def tls_given(files: Mapping[str, object], how: str) -> bool:
    """Whether TLS files are given: all three (True) or none (False); some of them is refused.

    `files` maps how the caller names each file (an option, a variable) to its value; `how`
    says what to do instead, for the message that names the missing ones.
    """
    if not any(files.values()):
        return False
    missing = [name for name, value in files.items() if not value]
    if missing:
        raise InvalidArgument(f"{', '.join(missing)}: {how}", field=missing[0].removeprefix("--").replace("-", "_"))
    return True


def files_from_env(env: Mapping[str, str] | None = None) -> CertFiles | None:
    """The client files FEDPE_TLS_CA_FILE, FEDPE_TLS_CERT and FEDPE_TLS_KEY name (all or none)."""
    env = os.environ if env is None else env
    values = {var: env.get(var) or None for var in (ENV_CA_FILE, ENV_CERT, ENV_KEY)}
    if not tls_given(values, f"set all of {ENV_CA_FILE}, {ENV_CERT} and {ENV_KEY} or none"):
        return None
    return CertFiles(Path(values[ENV_CA_FILE]), Path(values[ENV_CERT]), Path(values[ENV_KEY]))


def security_from_env(env: Mapping[str, str] | None = None) -> "distributed.Security | None":
    """The Dask Security for code that has no Federation block (the API, a script after `fedpe env`)."""
    return client_security(files_from_env(env))


# certificates ---------------------------------------------------------------------------


def _ensure_ca(files: TlsFiles):
    """Load the federation CA, or make one when neither of its files exists."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    have_cert, have_key = files.ca_file.exists(), files.ca_key.exists()
    if have_cert and have_key:
        try:
            cert = x509.load_pem_x509_certificate(files.ca_file.read_bytes())
            key = serialization.load_pem_private_key(files.ca_key.read_bytes(), password=None)
        except (OSError, ValueError, TypeError) as exc:
            raise StackError(f"the federation CA in {files.dir} cannot be read ({exc}); {_replace_ca_hint(files)}") from None
        if cert.not_valid_after_utc - _now() < RENEW_BEFORE:
            raise StackError(f"the federation CA {files.ca_file} expires on {cert.not_valid_after_utc:%Y-%m-%d}; "
                             f"{_replace_ca_hint(files)}")
        return cert, key
    if have_cert or have_key:
        present = files.ca_file if have_cert else files.ca_key
        raise StackError(f"{present} is there without its pair; {_replace_ca_hint(files)}")

    key = _new_key()
    name = x509.Name([
        x509.NameAttribute(x509.NameOID.ORGANIZATION_NAME, "fedpe"),
        x509.NameAttribute(x509.NameOID.COMMON_NAME, "fedpe federation CA"),
    ])
    now = _now()
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    cert = (
        x509.CertificateBuilder()
        .subject_name(name).issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + CA_VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(
            digital_signature=True, key_cert_sign=True, crl_sign=True, content_commitment=False,
            key_encipherment=False, data_encipherment=False, key_agreement=False, encipher_only=False,
            decipher_only=False,
        ), critical=True)
        .add_extension(ski, critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False)
        .sign(key, _hash())
    )
    private_dir(files.dir)
    write_file(files.ca_key, _key_pem(key), private=True)
    write_file(files.ca_file, cert.public_bytes(serialization.Encoding.PEM), private=False)
    return cert, key


def _issue(pair: CertFiles, common_name: str, names: list[str], ca_cert, ca_key, files: TlsFiles) -> None:
    """Write a leaf certificate (server and client use: Dask's parties are both) and its key,
    and record its serial in the CA's registry (what `revoke_host` reads)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    key = _new_key()
    now = _now()
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([
            x509.NameAttribute(x509.NameOID.ORGANIZATION_NAME, "fedpe"),
            x509.NameAttribute(x509.NameOID.COMMON_NAME, common_name),
        ]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(min(now + CERT_VALIDITY, ca_cert.not_valid_after_utc))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(
            digital_signature=True, key_encipherment=True, key_cert_sign=False, crl_sign=False,
            content_commitment=False, data_encipherment=False, key_agreement=False, encipher_only=False,
            decipher_only=False,
        ), critical=True)
        # The scheduler also dials workers and workers dial each other: every party is both.
        .add_extension(x509.ExtendedKeyUsage([
            x509.ExtendedKeyUsageOID.SERVER_AUTH, x509.ExtendedKeyUsageOID.CLIENT_AUTH,
        ]), critical=False)
        .add_extension(x509.SubjectAlternativeName([_general_name(n) for n in names]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, _hash())
    )
    private_dir(pair.key.parent)
    write_file(pair.key, _key_pem(key), private=True)
    write_file(pair.cert, cert.public_bytes(serialization.Encoding.PEM), private=False)
    issued = _read_json(files.issued, {})
    issued[normal_serial(cert.serial_number)] = {
        "name": common_name, "not_after": cert.not_valid_after_utc.isoformat(), "issued_at": now.isoformat()}
    write_file(files.issued, json.dumps(issued, indent=2).encode(), private=False)


def _reusable(pair: CertFiles, ca_cert, names: list[str], common_name: str, files: TlsFiles) -> bool:
    """True when `pair` is a readable, matching cert and key the CA issued to `common_name`, not
    revoked, good for a while, naming `names`."""
    from cryptography import x509
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import serialization

    try:
        cert = x509.load_pem_x509_certificate(pair.cert.read_bytes())
        key = serialization.load_pem_private_key(pair.key.read_bytes(), password=None)
        cert.verify_directly_issued_by(ca_cert)
        sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (OSError, ValueError, TypeError, x509.ExtensionNotFound, InvalidSignature):
        return False
    if cert.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo) != \
            key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo):
        return False
    if cert.not_valid_after_utc - _now() < RENEW_BEFORE:
        return False
    cn = cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
    if not cn or cn[0].value != common_name or normal_serial(cert.serial_number) in revoked_serials(files.dir.parent):
        return False
    return {_general_name(n) for n in names} <= set(sans)


def _general_name(name: str):
    from cryptography import x509

    try:
        return x509.IPAddress(ipaddress.ip_address(name))
    except ValueError:
        return x509.DNSName(name)


def _new_key():
    from cryptography.hazmat.primitives.asymmetric import ec

    # P-256: what every TLS stack speaks, and generated in microseconds (RSA takes ~100 ms here).
    return ec.generate_private_key(ec.SECP256R1())


def _hash():
    from cryptography.hazmat.primitives import hashes

    return hashes.SHA256()


def _key_pem(key) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def _unique(names: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(n for n in names if n))


def _replace_ca_hint(files: TlsFiles) -> str:
    return (f"move {files.dir} away to make a new CA (every host certificate it signed must then be "
            "issued again with `fedpe tls issue-host`)")


def _read_json(path: Path, default):
    try:
        return json.loads(Path(path).read_text())
    except FileNotFoundError:
        return default
    except (OSError, ValueError) as exc:
        raise StackError(f"{path} cannot be read ({exc})") from None
