"""The Dask scheduler, through one long-lived client created on first use.

Dask's client is synchronous here (it runs its own event-loop thread); every call goes through
`call()`, which runs it in a worker thread and turns connection trouble into NoConnection.
A `fedpe://` scheduler is reached with the client certificate FEDPE_TLS_* name (set by
`fedpe up --tls`).
"""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any, Callable

import anyio

from fedpe.errors import InvalidArgument, NoConnection

CONNECT_TIMEOUT_S = 5.0


class Scheduler:
    def __init__(self, address: str | None, security=None):
        """`security`: a `distributed.Security`; by default the one FEDPE_TLS_* describe, if any."""
        self.address = address
        self.security = security
        self._client = None
        self._lock = threading.Lock()

    def _security(self):
        if self.security is None:
            from fedpe.stack.tls import security_from_env

            try:
                self.security = security_from_env()
            except InvalidArgument as exc:
                raise NoConnection(f"the API's TLS settings are incomplete: {exc.message}") from None
        return self.security

    def client(self):
        if not self.address:
            raise NoConnection("the API was started without FEDPE_SCHEDULER_ADDRESS")
        with self._lock:
            if self._client is not None and self._client.status in ("closed", "closing"):
                self._client = None
            if self._client is None:
                from distributed import Client

                try:
                    self._client = Client(self.address, timeout=f"{CONNECT_TIMEOUT_S}s", set_as_default=False,
                                          security=self._security())
                except (OSError, TimeoutError) as exc:
                    raise NoConnection(f"the Dask scheduler at {self.address} cannot be reached: {exc}") from exc
            return self._client

    def _run(self, fn: Callable[[Any], Any]):
        client = self.client()
        try:
            return fn(client)
        except (OSError, TimeoutError) as exc:
            with self._lock:
                self._client = None
            try:
                client.close(timeout=2)
            except Exception:
                pass
            raise NoConnection(f"the Dask scheduler at {self.address} did not answer: {exc}") from exc

    async def call(self, fn: Callable[[Any], Any]):
        """Run `fn(client)` in a thread; the event loop never blocks on Dask."""
        return await anyio.to_thread.run_sync(self._run, fn)

    def close(self) -> None:
        with self._lock:
            client, self._client = self._client, None
        if client is not None:
            try:
                client.close(timeout=2)
            except Exception:
                pass

    # what the routes need -------------------------------------------------------------

    async def workers(self) -> dict[str, dict]:
        """Name -> {address, last_seen (ISO), nthreads} of every worker connected now."""
        def read(client):
            info = client.scheduler_info(n_workers=-1)["workers"]
            out = {}
            for address, w in info.items():
                seen = w.get("last_seen")
                out[str(w.get("name"))] = {
                    "address": address,
                    "last_seen": dt.datetime.fromtimestamp(seen, dt.timezone.utc).isoformat() if seen else None,
                    "nthreads": w.get("nthreads"),
                }
            return out
        return await self.call(read)

    async def host_records(self) -> dict[str, dict]:
        from tasks.hosts import host_records

        return await self.call(host_records)

    async def set_event(self, name: str, on: bool) -> None:
        def flip(client):
            from distributed import Event

            event = Event(name, client=client)
            event.set() if on else event.clear()
        await self.call(flip)

    async def ping(self) -> dict:
        def read(client):
            info = client.scheduler_info(n_workers=-1)
            return {"workers": len(info.get("workers", {})), "address": info.get("address")}
        return await self.call(read)
