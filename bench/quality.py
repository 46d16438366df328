"""Accuracy of every strategy against the central baseline, on a federation of its own.

Starts 3 demo hosts with Dirichlet label skew (alpha 0.3 by default), runs flcore on digits with
the mlp for each strategy through run_deployment, and prints one line per strategy:

    partition=dirichlet alpha=0.3 strategy=NAME accuracy=A central=C gap=C-A

Usage: .venv/bin/python bench/quality.py [--alpha 0.3] [--rounds 30] [--hosts 3]
"""

from __future__ import annotations

import argparse

from _stack import bench_stack

STRATEGIES = [
    {"name": "fedavg"}, {"name": "fedavgm", "server_momentum": 0.5}, {"name": "fedprox", "mu": 0.1},
    {"name": "fedadam", "server_lr": 0.01}, {"name": "fedyogi", "server_lr": 0.01},
    {"name": "fedadagrad", "server_lr": 0.05}, {"name": "qfedavg", "q": 0.2}, {"name": "fedmedian"},
    {"name": "trimmed_mean", "beta": 0.2}, {"name": "scaffold"},
]
TRAINING = {"dataset": "digits", "model": "mlp", "local_epochs": 2, "batch_size": 32, "learning_rate": 0.1,
            "checkpoint_every": 0}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--alpha", type=float, default=0.3)
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--hosts", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    with bench_stack("fedpe-quality-", hosts=args.hosts, partition="dirichlet", alpha=args.alpha, seed=args.seed,
                     serve_api=False) as stack:
        from prefect.deployments import run_deployment

        from tasks.baseline import central_accuracy

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


if __name__ == "__main__":
    main()
