"""`fedpe host start`'s checks before it connects: one clear error per bad input."""

import gc
import pathlib
import socket
import sys

import pytest

from fedpe.errors import InvalidArgument, NoConnection
from fedpe.host.names import check_name
from fedpe.host.start import check_address, check_inputs, check_tls, preflight, worker_env
from fedpe.stack.tls import ensure_federation_tls, issue_host_cert


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    home = tmp_path_factory.mktemp("fed")
    ours = issue_host_cert(home, "hospital-x", home / "hospital-x")
    theirs = ensure_federation_tls(tmp_path_factory.mktemp("other"))
    return ours, theirs


@pytest.mark.parametrize("name", ["hospital-a", "h1", "node_7.site", "a" * 63, "A-b_c.d"])
def test_good_names_pass(name):
    assert check_name(name) == name


@pytest.mark.parametrize("name", ["", "bad name", "a/b", "-x", ".hidden", "_x", "a" * 64, "tab\tname", "é", "a:b"])
def test_bad_names_are_refused_naming_the_option(name):
    with pytest.raises(InvalidArgument, match="--name: invalid host name") as info:
        check_name(name)
    assert info.value.field == "name"


@pytest.mark.parametrize("name", ["fedpe-coordinator", "fedpe-scheduler", "ca"])
def test_the_federations_own_names_are_reserved(name):
    with pytest.raises(InvalidArgument, match="reserved for the federation's own certificates"):
        check_name(name)


@pytest.mark.parametrize("address, expected", [
    ("fedpe://127.0.0.1:8786", ("fedpe", "127.0.0.1", 8786)),
    ("fedpe://fed.example.org:443", ("fedpe", "fed.example.org", 443)),
    ("fedpe://[::1]:8786", ("fedpe", "::1", 8786)),
    ("tls://127.0.0.1:8786", ("fedpe", "127.0.0.1", 8786)),  # the same wire: read strictly all the same
])
def test_good_addresses_parse(address, expected):
    assert check_address(address) == expected


@pytest.mark.parametrize("address, why", [
    ("notanaddress", "no scheme"),
    ("127.0.0.1:8786", "no scheme"),
    ("http://127.0.0.1:8786", "scheme 'http'"),
    ("ucx://127.0.0.1:8786", "scheme 'ucx'"),
    ("tcp://127.0.0.1:8786", "scheme 'tcp'"),
    ("fedpe://127.0.0.1", "no port"),
    ("fedpe://:8786", "no host"),
    ("fedpe://127.0.0.1:0", "not a number from 1 to 65535"),
    ("fedpe://127.0.0.1:99999", "not a number from 1 to 65535"),
    ("fedpe://127.0.0.1:port", "not a number from 1 to 65535"),
    ("fedpe://127.0.0.1:8786/path", "only HOST:PORT"),
    ("fedpe://127.0.0.1:8786/", "only HOST:PORT"),
    ("fedpe://user@127.0.0.1:8786", "only HOST:PORT"),
])
def test_bad_addresses_are_refused_with_the_reason(address, why):
    with pytest.raises(InvalidArgument) as info:
        check_address(address)
    assert info.value.message.startswith("--scheduler: ")
    assert why in info.value.message and "expected fedpe://HOST:PORT" in info.value.message
    assert "\n" not in info.value.message


def test_tls_files_come_all_three_or_none(tmp_path):
    assert check_tls(None, None, None) is None
    with pytest.raises(InvalidArgument, match="--tls-cert, --tls-key: give"):
        check_tls(tmp_path / "ca.pem", None, None)
    files = check_tls(tmp_path / "ca.pem", tmp_path / "c.pem", tmp_path / "k.pem")
    assert files.cert.is_absolute()


def test_the_scheduler_needs_the_tls_files(tmp_path):
    with pytest.raises(InvalidArgument, match="mutual TLS only") as info:
        check_inputs("h", "fedpe://127.0.0.1:8786", tmp_path)
    assert info.value.field == "tls_ca_file"


def test_another_hosts_certificate_is_refused_before_connecting(tmp_path, certs):
    ours, _ = certs
    with pytest.raises(InvalidArgument, match="certificate of 'hospital-x', not of host 'hospital-y'") as info:
        check_inputs("hospital-y", "fedpe://127.0.0.1:8786", tmp_path, ours)
    assert info.value.field == "tls_cert"


def test_a_bad_policy_is_refused_naming_its_field(tmp_path, certs):
    ours, _ = certs
    policy = tmp_path / "policy.yaml"
    policy.write_text("tools: [flcore]\nfed_stats:\n  min_count: 1\n")
    with pytest.raises(InvalidArgument, match="--policy: .*fed_stats.min_count"):
        check_inputs("hospital-x", "fedpe://127.0.0.1:8786", tmp_path, ours, policy)
    policy.write_text("tools: [flcore]\nunknown_rule: true\n")
    with pytest.raises(InvalidArgument, match="--policy: .*unknown_rule"):
        check_inputs("hospital-x", "fedpe://127.0.0.1:8786", tmp_path, ours, policy)


def test_the_workers_environment_keeps_no_credential():
    source = {"PATH": "/bin", "HOME": "/root", "AWS_SECRET_ACCESS_KEY": "s3", "PREFECT_API_AUTH_STRING": "a:b",
              "MLFLOW_TRACKING_PASSWORD": "pw", "PREFECT_API_URL": "http://x/api", "FEDPE_API_KEY": "fpk"}
    env = worker_env("hospital-x", pathlib.Path("/tmp"), source=source)
    assert env["PATH"] == "/bin" and env["FEDPE_HOST_NAME"] == "hospital-x"
    assert not {"AWS_SECRET_ACCESS_KEY", "PREFECT_API_AUTH_STRING", "MLFLOW_TRACKING_PASSWORD", "PREFECT_API_URL",
                "FEDPE_API_KEY"} & set(env)


def test_missing_or_unreadable_tls_files_are_refused_naming_the_option(tmp_path, certs):
    ours, _ = certs
    missing = check_tls(ours.ca_file, tmp_path / "nope.pem", ours.key)
    with pytest.raises(InvalidArgument, match="--tls-cert: cannot read .*nope.pem"):
        check_inputs("h", "fedpe://127.0.0.1:8786", tmp_path, missing)

    garbage = tmp_path / "ca.pem"
    garbage.write_text("not a certificate")
    with pytest.raises(InvalidArgument, match="--tls-ca-file: .* holds no PEM certificate"):
        check_inputs("h", "fedpe://127.0.0.1:8786", tmp_path, check_tls(garbage, ours.cert, ours.key))


def test_a_key_that_is_not_the_certificates_is_refused(tmp_path, certs):
    ours, theirs = certs
    with pytest.raises(InvalidArgument, match="--tls-cert/--tls-key: .* not a PEM certificate and its unencrypted key"):
        check_inputs("h", "fedpe://127.0.0.1:8786", tmp_path, check_tls(ours.ca_file, ours.cert, theirs.coordinator.key))


def test_good_tls_input_passes(tmp_path, certs):
    ours, _ = certs
    check_inputs("hospital-x", "fedpe://127.0.0.1:8786", tmp_path, ours)


def test_data_dir_must_be_a_folder(tmp_path):
    with pytest.raises(InvalidArgument, match="--data-dir: .* is not a folder"):
        check_inputs("h", "fedpe://127.0.0.1:8786", tmp_path / "missing")


def test_name_is_checked_before_the_address_and_nothing_connects(tmp_path, monkeypatch):
    import distributed

    monkeypatch.setattr(distributed, "Client", lambda *a, **k: pytest.fail("connected before checking"))
    with pytest.raises(InvalidArgument, match="--name"):
        preflight("bad name", "notanaddress", tmp_path)
    with pytest.raises(InvalidArgument, match="--scheduler"):
        preflight("good", "notanaddress", tmp_path)


def test_an_unreachable_scheduler_is_one_quiet_no_connection(tmp_path, certs):
    ours, _ = certs
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    unraisable = []
    hook, sys.unraisablehook = sys.unraisablehook, unraisable.append
    try:
        with pytest.raises(NoConnection, match=f"cannot reach the Dask scheduler at fedpe://127.0.0.1:{port}") as info:
            preflight("hospital-x", f"fedpe://127.0.0.1:{port}", tmp_path, tls=ours, timeout_s=0.5)
        gc.collect()
    finally:
        sys.unraisablehook = hook
    assert "\n" not in info.value.message
    assert not unraisable  # no Client.__del__ noise
