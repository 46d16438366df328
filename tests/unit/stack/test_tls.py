"""The federation CA and its certificates: chains that verify, private keys, reuse."""

import datetime as dt
import ipaddress
import stat

import pytest
from cryptography import x509
from cryptography.x509.verification import PolicyBuilder, Store

from fedpe.errors import InvalidArgument, StackError
from fedpe.stack.tls import (
    CertFiles,
    ensure_federation_tls,
    files_from_env,
    issue_host_cert,
    tls_files,
)


def load(path):
    return x509.load_pem_x509_certificate(path.read_bytes())


def verifier(ca_path):
    return PolicyBuilder().store(Store([load(ca_path)])).time(dt.datetime.now(dt.timezone.utc))


def mode(path):
    return stat.S_IMODE(path.stat().st_mode)


def test_scheduler_cert_verifies_as_a_server_of_its_bind_host_against_the_ca(tmp_path):
    files = ensure_federation_tls(tmp_path, bind="10.1.2.3")

    for name in (x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost"),
                 x509.IPAddress(ipaddress.ip_address("10.1.2.3"))):
        chain = verifier(files.ca_file).build_server_verifier(name).verify(load(files.scheduler.cert), [])
        assert chain[-1] == load(files.ca_file)


def test_client_and_host_certs_verify_as_clients_against_the_ca(tmp_path):
    files = ensure_federation_tls(tmp_path)
    host = issue_host_cert(tmp_path, "hospital-x", tmp_path / "out")

    for cert in (files.coordinator.cert, host.cert):
        verified = verifier(files.ca_file).build_client_verifier().verify(load(cert), [])
        assert verified.chain[-1] == load(files.ca_file)


def test_a_cert_of_another_ca_does_not_verify(tmp_path):
    ours = ensure_federation_tls(tmp_path / "ours")
    theirs = ensure_federation_tls(tmp_path / "theirs")

    with pytest.raises(x509.verification.VerificationError):
        verifier(ours.ca_file).build_client_verifier().verify(load(theirs.coordinator.cert), [])


def test_keys_are_0600_and_the_folder_0700(tmp_path):
    files = ensure_federation_tls(tmp_path)
    host = issue_host_cert(tmp_path, "hospital-x", tmp_path / "out")

    for key in (files.ca_key, files.scheduler.key, files.coordinator.key, host.key):
        assert mode(key) == 0o600, key
    assert mode(files.dir) == 0o700
    assert mode(tmp_path / "out") == 0o700


def test_files_are_reused_when_present(tmp_path):
    first = ensure_federation_tls(tmp_path)
    before = {p: p.read_bytes() for p in (first.ca_file, first.ca_key, first.scheduler.cert, first.coordinator.key)}

    second = ensure_federation_tls(tmp_path)

    assert second == first
    assert {p: p.read_bytes() for p in before} == before


def test_a_new_bind_host_reissues_the_scheduler_cert_under_the_same_ca(tmp_path):
    first = ensure_federation_tls(tmp_path)
    ca, old = first.ca_file.read_bytes(), first.scheduler.cert.read_bytes()

    files = ensure_federation_tls(tmp_path, bind="fed.example.org")

    assert files.ca_file.read_bytes() == ca
    assert files.scheduler.cert.read_bytes() != old
    verifier(files.ca_file).build_server_verifier(x509.DNSName("fed.example.org")).verify(
        load(files.scheduler.cert), [])


def test_a_damaged_ca_is_not_replaced_silently(tmp_path):
    files = ensure_federation_tls(tmp_path)
    files.ca_key.unlink()

    with pytest.raises(StackError, match="without its pair"):
        ensure_federation_tls(tmp_path)


def test_issue_host_cert_writes_ca_cert_and_key_and_reuses_on_request(tmp_path):
    host = issue_host_cert(tmp_path, "hospital-x", tmp_path / "out", sans=["10.0.0.7"])

    assert host == CertFiles(tmp_path / "out" / "ca.pem", tmp_path / "out" / "hospital-x.pem",
                             tmp_path / "out" / "hospital-x-key.pem")
    assert host.ca_file.read_bytes() == tls_files(tmp_path).ca_file.read_bytes()
    names = load(host.cert).extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert x509.DNSName("hospital-x") in names and x509.IPAddress(ipaddress.ip_address("10.0.0.7")) in names
    cert = host.cert.read_bytes()
    assert issue_host_cert(tmp_path, "hospital-x", tmp_path / "out", sans=["10.0.0.7"], reuse=True).cert.read_bytes() == cert
    assert issue_host_cert(tmp_path, "hospital-x", tmp_path / "out").cert.read_bytes() != cert


def test_issue_host_cert_refuses_a_bad_name(tmp_path):
    with pytest.raises(InvalidArgument, match="invalid host name"):
        issue_host_cert(tmp_path, "../escape", tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_files_from_env_takes_all_three_or_none(tmp_path):
    assert files_from_env({}) is None
    env = {"FEDPE_TLS_CA_FILE": "/c/ca.pem", "FEDPE_TLS_CERT": "/c/client.pem", "FEDPE_TLS_KEY": "/c/client-key.pem"}
    assert files_from_env(env).cert.name == "client.pem"
    with pytest.raises(InvalidArgument, match="FEDPE_TLS_KEY"):
        files_from_env({k: v for k, v in env.items() if k != "FEDPE_TLS_KEY"})


def test_client_security_requires_encryption(tmp_path):
    from fedpe.stack.tls import client_security

    files = ensure_federation_tls(tmp_path)
    security = client_security(files.coordinator)

    assert security.require_encryption is True
    assert security.tls_client_cert == str(files.coordinator.cert)
    assert client_security(None) is None


def test_issue_host_cert_never_writes_over_the_ca(tmp_path):
    files = ensure_federation_tls(tmp_path)
    ca = files.ca_file.read_bytes()

    with pytest.raises(InvalidArgument, match="--out: .* holds the federation CA"):
        issue_host_cert(tmp_path, "scheduler", files.dir)
    with pytest.raises(InvalidArgument, match="'ca' is reserved"):
        issue_host_cert(tmp_path, "ca", tmp_path / "out")
    assert files.ca_file.read_bytes() == ca
