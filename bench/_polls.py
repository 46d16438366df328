"""Status pollers for the benchmarks: `clients` threads, each on its own keep-alive connection,
each first connecting and having its first poll answered (the API key's one argon2 check), then
all polling `each` times together.

`poll_status` speaks HTTP/1.1 with the standard library's `http.client`, so that the latencies
are the API's: an httpx client in the bench's own process cost 1.0-1.1 ms of CPU per request, five
to ten times what the API spent on it (0.11-0.20 ms; psutil, 20 pollers), on the same two cores.
`poll_status_httpx` is the same with an httpx client per thread, as the benches measured before.
"""

from __future__ import annotations

import contextlib
import http.client
import threading
import time
import urllib.parse
from typing import Callable


def _together(clients: int, connect: Callable[[contextlib.ExitStack], Callable[[], None]], each: int) -> list[float]:
    """Latencies (ms) of `each` calls per client; `connect(resources)` opens a client, closed with
    `resources` when its thread ends, and returns its call."""
    latencies: list[float] = []
    lock = threading.Lock()
    ready = threading.Barrier(clients)
    failures: list[BaseException] = []

    def run() -> None:
        with contextlib.ExitStack() as resources:
            try:
                call = connect(resources)
                call()
            except BaseException as exc:  # noqa: BLE001 - reported after the others have finished
                failures.append(exc)
                ready.abort()
                return
            try:
                ready.wait()
            except threading.BrokenBarrierError:
                return
            mine = []
            for _ in range(each):
                start = time.perf_counter()
                call()
                mine.append((time.perf_counter() - start) * 1000)
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=run) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise SystemExit(f"a poller failed: {failures[0]}")
    return latencies


def poll_status(api: str, key: str, execution_id: str, clients: int = 20, each: int = 50) -> list[float]:
    """Latencies (ms) of GET {api}/executions/status/{execution_id}, with `http.client`."""
    target = urllib.parse.urlsplit(api)
    path = f"{target.path.rstrip('/')}/executions/status/{execution_id}"
    headers = {"Authorization": f"Bearer {key}"}

    def connect(resources: contextlib.ExitStack) -> Callable[[], None]:
        connection = resources.enter_context(contextlib.closing(
            http.client.HTTPConnection(target.hostname, target.port, timeout=60)))

        def get() -> None:
            connection.request("GET", path, headers=headers)
            answer = connection.getresponse()
            body = answer.read()
            if answer.status != 200:
                raise SystemExit(f"GET {path}: {answer.status} {body[:300]!r}")

        return get

    return _together(clients, connect, each)


def poll_status_httpx(api: str, key: str, execution_id: str, clients: int = 20, each: int = 50) -> list[float]:
    """The same with an httpx client per thread."""
    import httpx

    def connect(resources: contextlib.ExitStack) -> Callable[[], None]:
        client = resources.enter_context(
            httpx.Client(base_url=api, headers={"Authorization": f"Bearer {key}"}, timeout=60))
        return lambda: client.get(f"/executions/status/{execution_id}").raise_for_status() and None

    return _together(clients, connect, each)


def p99(latencies: list[float]) -> float:
    """The 99th percentile (ms), as statistics.quantiles gives it."""
    import statistics

    return statistics.quantiles(latencies, n=100)[98]
