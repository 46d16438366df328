"""Accuracy of every strategy against the central baseline, on a federation of its own.

Starts 3 demo hosts with Dirichlet label skew (alpha 0.3 by default), runs flcore on digits with
the mlp for each strategy through run_deployment, and prints one line per strategy:

    partition=dirichlet alpha=0.3 strategy=NAME accuracy=A central=C gap=C-A

Usage: .venv/bin/python bench/quality.py [--alpha 0.3] [--rounds 30] [--hosts 3]
"""

from __future__ import annotations

import argparse
import os
import socket
import tempfile
from pathlib import Path

STRATEGIES = [
    {"name": "fedavg"}, {"name": "fedavgm", "server_momentum": 0.5}, {"name": "fedprox", "mu": 0.1},
    {"name": "fedadam", "server_lr": 0.01}, {"name": "fedyogi", "server_lr": 0.01},
    {"name": "fedadagrad", "server_lr": 0.05}, {"name": "qfedavg", "q": 0.2}, {"name": "fedmedian"},
    {"name": "trimmed_mean", "beta": 0.2}, {"name": "scaffold"},
]
TRAINING = {"dataset": "digits", "model": "mlp", "local_epochs": 2, "batch_size": 32, "learning_rate": 0.1,
            "checkpoint_every": 0}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--alpha", type=float, default=0.3)
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--hosts", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="fedpe-quality-"))
    ports = {k: free_port() for k in ("prefect", "scheduler", "dashboard", "mlflow")}
    os.environ.update({"FEDPE_HOME": str(home), "PREFECT_HOME": str(home / "prefect-client"),
                       "PREFECT_API_URL": f"http://127.0.0.1:{ports['prefect']}/api",
                       "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
                       "MLFLOW_TRACKING_URI": f"http://127.0.0.1:{ports['mlflow']}",
                       "FEDPE_STORE_URL": f"file://{home}/store"})
    from prefect.deployments import run_deployment

    from fedpe.stack import launcher
    from fedpe.stack.config import StackConfig
    from tasks.baseline import central_accuracy

    config = StackConfig(home=home, prefect_port=ports["prefect"], scheduler_port=ports["scheduler"],
                         dashboard_port=ports["dashboard"], mlflow_port=ports["mlflow"], hosts=args.hosts,
                         partition="dirichlet", alpha=args.alpha, seed=args.seed, serve_api=False)
    stack = launcher.up(config)
    try:
        central = central_accuracy("digits", "mlp", seed=args.seed)
        for strategy in STRATEGIES:
            run = run_deployment("flcore/default", poll_interval=0.25, timeout=1800, parameters={
                "server": stack.hosts[0], "clients": stack.hosts, "strategy": strategy, "rounds": args.rounds,
                "seed": args.seed, **TRAINING})
            if not run.state.is_completed():
                print(f"strategy={strategy['name']} failed: {run.state.message}", flush=True)
                continue
            accuracy = run.state.result().final_metrics["accuracy"]
            print(f"partition=dirichlet alpha={args.alpha} strategy={strategy['name']} accuracy={accuracy:.4f} "
                  f"central={central:.4f} gap={central - accuracy:+.4f}", flush=True)
    finally:
        launcher.down(home)


if __name__ == "__main__":
    main()
