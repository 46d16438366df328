"""Round latency of flcore against the floor of plain Dask tasks, on a federation of its own.

For 3 and 10 hosts (and 10 hosts with a 1,000,000-weight model) it runs flcore through
run_deployment (logreg, FedAvg, local_epochs=5 full batch, 50 rounds) and, in the same run,
the same local work as plain Dask tasks, one worker process per host, with a plain averaging
loop (the floor). The floor runs on a plain Dask cluster over TLS of its own: fedpe's
federation reads hosts' bytes strictly and so cannot gather their pickled results, which is
exactly what plain Dask does every round. One line per case:

    hosts=N fedpe_round_ms=X floor_round_ms=Y ratio=X/Y first_round_s=Z accuracy=A

and last a `cold` line: the 10 hosts again once their role processes have ended (after an idle
spell), so its first_round_s includes starting every host's role process.

Per-round figures are medians. Usage: .venv/bin/python bench/rounds.py [--rounds 50]

With `--netem "delay 20ms loss 1%"` every host lives in a network namespace of its own and
both ends of its link carry that tc netem (root and iproute2 needed): the same lines under
those link conditions, each suffixed with `netem="..."`.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np
import pandas as pd
from _stack import bench_stack, roles_left


def write_wide(data_dirs: dict[str, str], *, features: int, classes: int, rows: int = 20) -> None:
    """Random features, `features * classes + classes` logreg weights (CSV: wide parquet is slow)."""
    for i, data_dir in enumerate(data_dirs.values()):
        rng = np.random.default_rng(i)
        frame = pd.DataFrame(rng.normal(size=(rows, features)), columns=[f"f{j}" for j in range(features)])
        frame["target"] = np.arange(rows) % classes
        folder = Path(data_dir) / "wide"
        folder.mkdir(parents=True, exist_ok=True)
        frame.to_csv(folder / "train.csv", index=False)
        frame.head(classes).to_csv(folder / "test.csv", index=False)


# -- the floor: plain Dask tasks, resubmitted every round ------------------------------------------

def _floor_local_work(weights, data_dir: str, dataset: str, epochs: int, lr: float, seed: int):
    """The same work a client does in a round: evaluate the incoming model, train, send weights."""
    from distributed import get_worker

    from tasks.data.catalogue import load_dataset
    from tasks.models.registry import build_model
    from tasks.training import evaluate, local_train, standardize

    cache = get_worker().__dict__.setdefault("_fedpe_bench_cache", {})
    key = (data_dir, dataset)
    if key not in cache:  # data stays loaded between rounds, as the fedpe actor keeps it
        frame = load_dataset(data_dir, dataset, "train")
        X = frame.drop(columns=["target"]).to_numpy(dtype=np.float64)
        y = frame["target"].to_numpy().astype(int)
        X = standardize(X, X.mean(axis=0), X.std(axis=0))
        n_classes = weights[-1].shape[0]
        cache[key] = (X, y, build_model("logreg", X.shape[1], n_classes, seed=seed))
    X, y, model = cache[key]
    model.set_weights(weights)
    evaluate(model, X, y)
    result = local_train(model, X, y, epochs=epochs, batch_size=None, learning_rate=lr,
                         rng=np.random.default_rng(seed))
    return model.get_weights(), result.num_examples


def floor(hosts: list[str], data_dirs: dict[str, str], dataset: str, n_weights_shape, rounds: int) -> float:
    """The floor's median round on a plain Dask cluster over TLS: one single-threaded worker per host."""
    from distributed import Client, LocalCluster, Security

    with LocalCluster(n_workers=len(hosts), threads_per_worker=1, processes=True, protocol="tls://",
                      security=Security.temporary(), dashboard_address=None,
                      env={"OMP_NUM_THREADS": "1"}) as cluster, Client(cluster, set_as_default=False) as client:
        client.wait_for_workers(len(hosts), timeout=120)
        workers = dict(zip(hosts, sorted(client.scheduler_info()["workers"])))
        return floor_rounds(client, hosts, workers, data_dirs, dataset, n_weights_shape, rounds)


def floor_rounds(client, hosts: list[str], workers: dict[str, str], data_dirs: dict[str, str], dataset: str,
                 n_weights_shape, rounds: int) -> float:
    weights = [np.zeros(s) for s in n_weights_shape]
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        futures = [client.submit(_floor_local_work, weights, data_dirs[h], dataset, 5, 0.5, 0, workers=[workers[h]],
                                 allow_other_workers=False, pure=False) for h in hosts]
        results = client.gather(futures)
        total = sum(n for _, n in results)
        weights = [sum(w[i] * n for w, n in results) / total for i in range(len(weights))]
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times[1:])  # round 1 loads the data


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=50)
    parser.add_argument("--skip-wide", action="store_true")
    parser.add_argument("--netem", help="tc netem arguments for every host link, e.g. 'delay 20ms loss 1%%'")
    args = parser.parse_args()
    links = {"netns": True, "netem": args.netem} if args.netem else {}
    suffix = f' netem="{args.netem}"' if args.netem else ""
    with bench_stack("fedpe-bench-", hosts=10, serve_api=False, host_threads=2, **links) as stack:
        if not args.skip_wide:
            write_wide(stack.data_dirs, features=10_000, classes=100)
        # The first execution of a new federation pays one-time costs (the Prefect server's
        # first task runs, MLflow's first model, every host's role process): it is printed
        # apart, not mixed into a case. Each host's role process then stays warm for 30 s after
        # its last role (tasks/host/role_process.py).
        print("warm-up " + measure(stack, stack.hosts, "breast-cancer", 3), flush=True)
        cases = [(stack.hosts[:3], "breast-cancer", ""), (stack.hosts, "breast-cancer", "")]
        if not args.skip_wide:
            cases.append((stack.hosts, "wide", " weights=1000100"))
        for hosts, dataset, label in cases:
            print(measure(stack, hosts, dataset, args.rounds) + label + suffix, flush=True)
        # What a user's first execution after an idle spell pays: every role process starts.
        roles_left(stack.config.home)
        print("cold " + measure(stack, stack.hosts, "breast-cancer", args.rounds) + suffix, flush=True)


def measure(stack, hosts: list[str], dataset: str, rounds: int) -> str:
    from prefect.deployments import run_deployment

    parameters = {"server": hosts[0], "clients": hosts, "dataset": dataset, "model": "logreg",
                  "strategy": {"name": "fedavg"}, "rounds": rounds, "local_epochs": 5, "batch_size": None,
                  "learning_rate": 0.5, "checkpoint_every": 0, "round_timeout_s": 120}
    submitted = time.time()
    flow_run = run_deployment("flcore/default", parameters=parameters, poll_interval=0.25, timeout=1800)
    if not flow_run.state.is_completed():
        raise SystemExit(f"flcore failed on {len(hosts)} hosts: {flow_run.state.message}")
    result = flow_run.state.result()
    fedpe_ms = statistics.median(h["round_ms"] for h in result.history[1:])
    first_round_s = result.history[0]["ended_at"] - submitted

    from blocks.store import StoreSpec
    from tasks.coordinator.reporter import npz_to_weights

    model = npz_to_weights(StoreSpec(url=stack.config.store).read_bytes(result.execution_id, hosts[0], "model_final.npz"))
    floor_ms = floor(hosts, stack.data_dirs, dataset, [w.shape for w in model], rounds)
    return (f"hosts={len(hosts)} fedpe_round_ms={fedpe_ms:.2f} floor_round_ms={floor_ms:.2f} "
            f"ratio={fedpe_ms / floor_ms:.2f} first_round_s={first_round_s:.2f} "
            f"accuracy={result.final_metrics['accuracy']:.4f}")


if __name__ == "__main__":
    main()
