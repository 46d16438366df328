"""Latency of GET /executions/status/{id} under concurrent clients, on a stack of its own.

Starts a stack on free ports in a temporary FEDPE_HOME, creates a user, runs one health-check
through the API, then C threads each send N status requests (bench/_polls.py: one connection per thread, API key
auth; a poll that is not a 200 stops the bench). One line:

    clients=C requests=N median_ms=X p99_ms=Y

(`requests` is the total). Usage: .venv/bin/python bench/api_latency.py [--clients 20] [--per-client 50]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import httpx
from _polls import p99, poll_status
from _stack import api_key, bench_stack


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--per-client", type=int, default=50)
    args = parser.parse_args()

    with bench_stack("fedpe-bench-api-", hosts=3) as stack:
        config, home = stack.config, stack.config.home
        key = api_key(home, "bench")
        headers = {"Authorization": f"Bearer {key}"}
        base = f"{config.api_url}/api/v1"
        with httpx.Client(base_url=base, headers=headers, timeout=60) as client:
            execution_id = client.post("/tools/job/health-check", json={}).raise_for_status().json()["execution_id"]
            deadline = time.monotonic() + 120
            while any(s["status"] in ("pending", "running")
                      for s in client.get(f"/executions/status/{execution_id}").json()):
                if time.monotonic() > deadline:
                    raise SystemExit("the health-check did not finish")
                time.sleep(0.3)

        wall = time.perf_counter()
        latencies = poll_status(base, key, execution_id, clients=args.clients, each=args.per_client)
        wall = time.perf_counter() - wall
        print(f"clients={args.clients} requests={len(latencies)} median_ms={statistics.median(latencies):.1f} "
              f"p99_ms={p99(latencies):.1f}", flush=True)
        print(f"# throughput_rps={len(latencies) / wall:.0f} cpus={os.cpu_count()}", flush=True)


if __name__ == "__main__":
    main()
