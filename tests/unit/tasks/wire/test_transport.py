"""fedpe:// on loopback with real certificates: a host's bytes are read strictly on whichever side
it is, the federation's own parties read as Dask does, and a revoked certificate fails the TLS
handshake itself, each federation against its own CA's CRL."""

import asyncio
import os

import pytest
from distributed.comm import connect, listen
from distributed.protocol.serialize import ToPickle

from fedpe.stack.tls import client_security, ensure_federation_tls, issue_host_cert, revoke_host


class Marker:
    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


@pytest.fixture()
def federation(tmp_path):
    home = tmp_path / "fed"
    files = ensure_federation_tls(home)
    return home, files, {name: issue_host_cert(home, name, home / name) for name in ("hospital-a", "hospital-b")}


async def serve(security, seen: list):
    async def handle(comm):
        try:
            seen.append(await comm.read())
            await comm.write({"ok": True})
        except Exception as exc:  # a refused read closes the comm
            seen.append(exc)

    listener = listen("fedpe://127.0.0.1:0", handle, **security.get_listen_args("client"))
    await listener.start()
    return listener


async def exchange(address, security, msg):
    try:
        comm = await connect(address, timeout=5, **security.get_connection_args("client"))
        await comm.write(msg)
        return await asyncio.wait_for(comm.read(), 5)
    except Exception as exc:
        return exc


def test_a_hosts_pickle_is_refused_and_the_coordinators_is_read(federation, tmp_path):
    home, files, hosts = federation
    seen = []

    async def go():
        listener = await serve(client_security(files.scheduler), seen)
        host = await exchange(listener.contact_address, client_security(hosts["hospital-a"]),
                              {"op": "x", "v": ToPickle(Marker(tmp_path / "host"))})
        coordinator = await exchange(listener.contact_address, client_security(files.coordinator),
                                     {"op": "x", "v": ToPickle(Marker(tmp_path / "coordinator"))})
        listener.stop()
        return host, coordinator

    host, coordinator = asyncio.run(go())

    assert isinstance(host, OSError) and not (tmp_path / "host").exists()
    assert coordinator == {"ok": True} and (tmp_path / "coordinator").exists()  # the control: Dask's own reading


def test_a_revoked_host_fails_the_handshake_and_another_federations_crl_does_not_interfere(federation, tmp_path):
    home, files, hosts = federation
    other = ensure_federation_tls(tmp_path / "other")  # its own CA and CRL, in the same process
    os.environ["FEDPE_TLS_CRL"] = str(files.crl)  # the listener's (the scheduler's) CRL
    seen = []

    async def go():
        listener = await serve(client_security(files.scheduler), seen)
        os.environ.pop("FEDPE_TLS_CRL")
        other_seen = []
        other_listener = await serve(client_security(other.scheduler), other_seen)
        before = await exchange(listener.contact_address, client_security(hosts["hospital-b"]), {"n": 1})
        revoke_host(home, "hospital-b")
        after = await exchange(listener.contact_address, client_security(hosts["hospital-b"]), {"n": 2})
        still = await exchange(listener.contact_address, client_security(hosts["hospital-a"]), {"n": 3})
        # a coordinator of the other federation dials its own scheduler: checked against its own CRL
        theirs = await exchange(other_listener.contact_address, client_security(other.coordinator), {"n": 4})
        listener.stop()
        other_listener.stop()
        return before, after, still, theirs

    try:
        before, after, still, theirs = asyncio.run(go())
    finally:
        os.environ.pop("FEDPE_TLS_CRL", None)

    assert before == {"ok": True} and still == {"ok": True} and theirs == {"ok": True}
    assert isinstance(after, OSError) and "revoked" in str(after).lower()
