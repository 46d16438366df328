"""Which hosts a tool runs on when none are named, and which named hosts are refused."""

import pytest

from fedpe.errors import HostNotAvailable
from tasks.hosts import available_hosts, check_hosts

CONNECTED = {"hospital-c": "fedpe://c", "hospital-a": "fedpe://a", "hospital-b": "fedpe://b"}


def test_available_hosts_are_the_connected_ones_not_disabled_sorted():
    assert available_hosts(CONNECTED, ["hospital-b"]) == ["hospital-a", "hospital-c"]
    assert available_hosts(CONNECTED, []) == ["hospital-a", "hospital-b", "hospital-c"]
    assert available_hosts({}, ["hospital-a"]) == []


@pytest.mark.parametrize(("requested", "words"), [
    (["hospital-a", "hospital-a"], "listed twice: hospital-a"),
    (["hospital-d"], "not connected: hospital-d (connected: hospital-a, hospital-b, hospital-c)"),
    (["hospital-b"], "disabled by an admin: hospital-b"),
])
def test_named_hosts_that_cannot_run_are_refused_naming_them_and_the_field(requested, words):
    with pytest.raises(HostNotAvailable) as refused:
        check_hosts(requested, CONNECTED, ["hospital-b"], field="clients")

    assert refused.value.field == "clients" and refused.value.message == f"clients: host(s) {words}"
