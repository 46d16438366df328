"""What a federation costs as it grows: start-up, first round, rounds, overhead, idle cost, memory,
and the API under load, for 5, 10, 25 and 50 hosts on this machine. One line per size:

    hosts=N up_s=U first_round_s=F round_ms=R overhead_s=O idle_cpu_pct=C host_rss_mib=M status_p99_ms=P
    host_rss_fresh_mib=M0 down_s=D status_p99_httpx_ms=P2

- up_s: `fedpe up --detach` to ready (a new FEDPE_HOME each size);
- first_round_s: run_deployment to the end of round 1, median of 3 executions on the warm federation;
- round_ms: median round of a 30-round FedAvg logreg on breast-cancer over all N hosts;
- overhead_s: that execution's submit-to-result minus its rounds' own time;
- idle_cpu_pct: the federation's CPU (every process it started) over 20 idle seconds, as a
  percentage of one core, divided by N;
- host_rss_mib: median RSS of one host with all its processes, idle after those executions
  (host_rss_fresh_mib: the same right after `fedpe up`, before any execution);
  idle here means once the last execution's roles have left (each host's role process ends
  30 s after its last role: tasks/host/role_process.py);
- status_p99_ms: p99 of GET /executions/status/{id}, 20 concurrent clients polling without pause
  (each on its own connection, its first request not counted: it opens the connection and has
  the API key verified), during a running execution (bench/_polls.py: the pollers use `http.client`,
  light enough that the figure is the API's);
- down_s: `fedpe down`, right after cancelling that execution;
- status_p99_httpx_ms: the same with an httpx client per thread, as this bench measured before:
  that client's own CPU on the same two cores is most of what it measures.

It stops everything it started. Usage: .venv/bin/python bench/scale.py [--sizes 5,10,25,50]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
from _polls import p99, poll_status, poll_status_httpx
from _stack import api_key, fedpe, processes, roles_left, up_options


def note(message: str) -> None:
    print(f"  [{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


@contextlib.contextmanager
def its_prefect(env: dict[str, str]):
    from prefect.settings import PREFECT_API_AUTH_STRING, PREFECT_API_URL, temporary_settings

    with temporary_settings(updates={PREFECT_API_URL: env["PREFECT_API_URL"],
                                     PREFECT_API_AUTH_STRING: env["PREFECT_API_AUTH_STRING"]}):
        yield


def cpu_seconds_over(home: Path, seconds: float) -> float:
    """The CPU seconds every process of the federation used over the next `seconds`, read each
    second: a process's last reading minus its first (one born meanwhile from zero). One that
    ends meanwhile counts up to its last reading; a single reading at each end took its whole
    time out of the sum, and once gave a negative figure."""
    first: dict[int, float] = {}
    last: dict[int, float] = {}
    deadline = time.monotonic() + seconds
    scans = 0
    while True:
        for proc in processes(home):
            with contextlib.suppress(psutil.NoSuchProcess):
                times = proc.cpu_times()
                last[proc.pid] = times.user + times.system
                first.setdefault(proc.pid, last[proc.pid] if scans == 0 else 0.0)
        scans += 1
        left = deadline - time.monotonic()
        if left <= 0:
            return sum(last[pid] - first[pid] for pid in last)
        time.sleep(min(1.0, left))


def host_rss_mib(home: Path) -> float:
    stack = json.loads((home / "stack.json").read_text())
    sizes = []
    for child in stack["children"]:
        if child["role"] != "host":
            continue
        with contextlib.suppress(psutil.NoSuchProcess):
            parent = psutil.Process(child["pid"])
            sizes.append(sum(p.memory_info().rss for p in [parent, *parent.children(recursive=True)]) / 2**20)
    return statistics.median(sizes)


def train(hosts: list[str], rounds: int, **extra) -> tuple[float, object]:
    """(submit time, the finished flow run) of one FedAvg logreg on breast-cancer over `hosts`."""
    from prefect.deployments import run_deployment

    submitted = time.time()
    run = run_deployment("flcore/default", poll_interval=0.25, timeout=1800, parameters={
        "server": hosts[0], "clients": hosts, "dataset": "breast-cancer", "model": "logreg",
        "strategy": {"name": "fedavg"}, "rounds": rounds, "checkpoint_every": 0, **extra})
    if not run.state.is_completed():
        raise SystemExit(f"flcore failed on {len(hosts)} hosts: {run.state.message}")
    return submitted, run


def measure(n: int) -> str:
    home = Path(tempfile.mkdtemp(prefix=f"fedpe-scale-{n}-"))
    options, _ = up_options(home, n)
    started = time.monotonic()
    up = fedpe("up", "--detach", *options)
    up_s = time.monotonic() - started
    try:
        if up.returncode != 0:
            raise SystemExit(f"fedpe up --hosts {n} failed: {up.stderr[-2000:]}")
        note(f"{n} hosts up in {up_s:.1f} s")
        time.sleep(3)  # the hosts' first catalogue scans end
        rss_fresh = host_rss_mib(home)
        env = dict(line.removeprefix("export ").split("=", 1) for line in
                   fedpe("env", "--home", str(home)).stdout.splitlines() if line.startswith("export "))
        env = {k: v.strip("'") for k, v in env.items()}
        hosts = json.loads((home / "stack.json").read_text())["hosts"]
        with its_prefect(env):
            train(hosts, 2)  # the warm-up: the first execution of a federation pays one-time costs
            firsts = []
            for _ in range(3):
                submitted, run = train(hosts, 1)
                firsts.append(run.state.result().history[0]["ended_at"] - submitted)
            note(f"first rounds {[round(f, 2) for f in firsts]}")
            submitted, run = train(hosts, 30)
            ended = time.time()
            history = run.state.result().history
            round_ms = statistics.median(h["round_ms"] for h in history)
            overhead_s = ended - submitted - sum(h["round_ms"] for h in history) / 1000
            note(f"30 rounds: median {round_ms:.1f} ms, overhead {overhead_s:.2f} s")
            roles_left(home)
            idle_cpu_pct = cpu_seconds_over(home, 20) / 20 * 100 / n
            rss = host_rss_mib(home)
            note(f"idle: {idle_cpu_pct:.2f} % of a core per host, host RSS {rss:.0f} MiB (fresh {rss_fresh:.0f})")
            key = api_key(home, f"bench-{n}", admin=True)
            from prefect.deployments import run_deployment

            long_run = run_deployment("flcore/default", timeout=0, parameters={
                "server": hosts[0], "clients": hosts, "dataset": "digits", "model": "mlp", "rounds": 1000,
                "checkpoint_every": 0})
            time.sleep(5)
            status_p99 = p99(poll_status(env["FEDPE_API_URL"], key, str(long_run.id)))
            status_p99_httpx = p99(poll_status_httpx(env["FEDPE_API_URL"], key, str(long_run.id)))
            fedpe("executions", "cancel", str(long_run.id), env={"FEDPE_API_URL": env["FEDPE_API_URL"],
                                                                 "FEDPE_API_KEY": key})
    finally:
        started = time.monotonic()
        fedpe("down", "--home", str(home))
        down_s = time.monotonic() - started
    return (f"hosts={n} up_s={up_s:.1f} first_round_s={statistics.median(firsts):.2f} round_ms={round_ms:.1f} "
            f"overhead_s={overhead_s:.2f} idle_cpu_pct={idle_cpu_pct:.2f} host_rss_mib={rss:.0f} "
            f"status_p99_ms={status_p99:.1f} host_rss_fresh_mib={rss_fresh:.0f} down_s={down_s:.1f} "
            f"status_p99_httpx_ms={status_p99_httpx:.1f}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", "--hosts", dest="sizes", default="5,10,25,50", help="host counts, e.g. 5,10")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(measure(args.one), flush=True)
        return
    for n in (int(s) for s in args.sizes.split(",")):
        # One process per size: Prefect's client keeps process-wide services (its events worker)
        # bound to the first federation's URL.
        subprocess.run([sys.executable, __file__, "--one", str(n)], check=False)


if __name__ == "__main__":
    main()
