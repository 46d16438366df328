"""Memory of a whole local federation, by part: after `fedpe up`, and idle after users' work.

It starts its own federation (`fedpe up --detach`, 3 hosts by default), prints one line, then
submits through the API, as the CLI, the SDK and FEM's client do, a training of each of FEM's
default model (random forest), logreg and mlp and a fed-stats, waits for the hosts' role
processes to end (30 s after their last role), and prints a second line:

    when=fresh hosts=N rss_mib=R pss_mib=P prefect=.. mlflow=.. api=.. runner=.. scheduler=.. hosts=..
    when=after_work hosts=N rss_mib=R pss_mib=P ...

`rss_mib` sums every process's RSS (what `ps` shows; pages shared between processes, the
interpreter's and the libraries', count once per process). `pss_mib` counts each shared page
once, split between its sharers: what the federation costs the machine. The parts give their
PSS (`runner` is the runner with its fork server; `hosts` every host's supervisor and worker).

Usage: .venv/bin/python bench/memory.py [--hosts 3]. It stops everything it started.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import psutil
from _stack import api_key, fedpe, processes, roles_left, up_options

#: Which part of the federation a process is, by a word of its command line (first match).
PARTS = [("prefect", "prefect server start"), ("mlflow", "mlflow.server"), ("api", "fedpe.api"),
         ("runner", "deployments.serve"), ("runner", "multiprocessing."), ("scheduler", "dask_scheduler"),
         ("roles", "tasks.host.role_main"), ("hosts", "fedpe.host.")]


def part_of(command: str) -> str:
    return next((part for part, word in PARTS if word in command), "other")


def footprint(home: Path) -> dict[str, float]:
    """RSS and PSS (MiB) of every process the federation runs, PSS also by part."""
    sums: dict[str, float] = {"rss_mib": 0.0, "pss_mib": 0.0}
    for proc in processes(home):
        try:
            memory = proc.memory_full_info()
            part = part_of(" ".join(proc.cmdline()))
        except psutil.Error:  # it ended meanwhile
            continue
        sums["rss_mib"] += memory.rss / 2**20
        sums["pss_mib"] += memory.pss / 2**20
        sums[part] = sums.get(part, 0.0) + memory.pss / 2**20
    return sums


def line(when: str, hosts: int, sums: dict[str, float]) -> str:
    parts = " ".join(f"{k}={v:.0f}" for k, v in sums.items() if k not in ("rss_mib", "pss_mib"))
    return f"when={when} hosts={hosts} rss_mib={sums['rss_mib']:.0f} pss_mib={sums['pss_mib']:.0f} {parts}"


def work(api_url: str, api_key: str, hosts: list[str]) -> None:
    """What a researcher does in a sitting, through the API: three trainings and a fed-stats."""
    import fedpe

    with fedpe.Session(api_url, api_key=api_key) as session:
        jobs = [session.submit_job("flcore", server=hosts[0], clients=hosts[1:],
                                   params={"rounds": 5, **({"model": {"name": model}} if model else {})})
                for model in (None, "logreg", "mlp")]  # None: FEM's default, a random forest
        jobs.append(session.submit_job("fed-stats", clients=hosts, params={"dataset": "breast-cancer"}))
        for job_id in jobs:
            job = session.wait_for_job(job_id, timeout=600, poll_interval=0.5)
            if job.status != "completed":
                raise SystemExit(f"execution {job_id} ended {job.status}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--hosts", type=int, default=3)
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="fedpe-memory-"))
    options, ports = up_options(home, args.hosts)
    try:
        up = fedpe("up", "--detach", *options)
        if up.returncode != 0:
            raise SystemExit(f"fedpe up failed: {up.stderr[-2000:]}")
        time.sleep(5)  # the hosts' first catalogue scans and the runner's fork server end
        print(line("fresh", args.hosts, footprint(home)), flush=True)
        hosts = json.loads((home / "stack.json").read_text())["hosts"]
        key = api_key(home, "bench")
        work(f"http://127.0.0.1:{ports['api']}/api/v1", key, hosts)
        roles_left(home)
        print(line("after_work", args.hosts, footprint(home)), flush=True)
    finally:
        fedpe("down", "--home", str(home))


if __name__ == "__main__":
    main()
