"""Quality of every model under every strategy it accepts, against its central baseline, on a
federation of its own.

Starts 3 demo hosts (iid by default; `--partition dirichlet --alpha 0.3` for label skew) and,
with `--missing 0.1`, a tenth of their cells blank. Each model trains on its demo dataset
(breast-cancer; digits for the nets; gbsg2 for Cox) under each strategy that applies to it
(tasks/models/kinds.py) and that the hosts are enough for; the trainings are submitted at once.
One line per pair:

    model=M dataset=D strategy=S partition=P missing=F metric=accuracy score=A central=C gap=C-A

`metric` is accuracy, concordance for Cox. Usage:
    .venv/bin/python bench/quality.py [--rounds 20] [--models logreg,random_forest] [--strategies fedavg,fedprox]
"""

from __future__ import annotations

import argparse
import time

from _stack import bench_stack

STRATEGIES = {
    "fedavg": {"name": "fedavg"}, "fedavgm": {"name": "fedavgm", "server_momentum": 0.5},
    "fedprox": {"name": "fedprox", "mu": 0.1}, "fedadam": {"name": "fedadam", "server_lr": 0.01},
    "fedyogi": {"name": "fedyogi", "server_lr": 0.01}, "fedadagrad": {"name": "fedadagrad", "server_lr": 0.05},
    "qfedavg": {"name": "qfedavg", "q": 0.2}, "fedmedian": {"name": "fedmedian"},
    "trimmed_mean": {"name": "trimmed_mean", "beta": 0.2}, "krum": {"name": "krum", "f": 1},
    "multikrum": {"name": "multikrum", "f": 1}, "bulyan": {"name": "bulyan", "f": 1}, "scaffold": {"name": "scaffold"},
}
MODELS = {
    "logreg": "breast-cancer", "linear_svm": "breast-cancer", "elastic_net": "breast-cancer",
    "random_forest": "breast-cancer", "weighted_random_forest": "breast-cancer", "xgboost": "breast-cancer", "cox": "gbsg2", "mlp": "digits",
    "torch_mlp": "digits",
}


def pairs(models: list[str], strategies: list[str], hosts: int) -> list[tuple[str, str]]:
    """(model, strategy) pairs that apply: the model accepts the strategy, the hosts are enough."""
    from tasks.models.kinds import ACCEPTED_STRATEGIES
    from tasks.models.torch_mlp import torch_available
    from pydantic import TypeAdapter

    from tasks.strategies.config import StrategyConfig

    adapter = TypeAdapter(StrategyConfig)

    out = []
    for model in models:
        if model == "torch_mlp" and not torch_available():
            print("model=torch_mlp skipped: torch is not installed (pip install -e '.[torch]')", flush=True)
            continue
        for strategy in strategies:
            if strategy not in ACCEPTED_STRATEGIES[model]:
                continue
            needed = adapter.validate_python(STRATEGIES[strategy]).required_clients()
            if needed > hosts:
                print(f"model={model} strategy={strategy} skipped: needs {needed} hosts, the federation has {hosts}",
                      flush=True)
                continue
            out.append((model, strategy))
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--partition", choices=("iid", "dirichlet"), default="iid")
    parser.add_argument("--alpha", type=float, default=0.3)
    parser.add_argument("--missing", type=float, default=0.0)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--hosts", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--strategies", default=",".join(STRATEGIES))
    args = parser.parse_args()
    chosen = pairs(args.models.split(","), args.strategies.split(","), args.hosts)
    with bench_stack("fedpe-quality-", hosts=args.hosts, partition=args.partition, alpha=args.alpha, seed=args.seed,
                     missing=args.missing, serve_api=False) as stack:
        from prefect.deployments import run_deployment

        from tasks.baseline import central_score

        runs = {}
        for model, strategy in chosen:
            runs[(model, strategy)] = run_deployment("flcore/default", timeout=0, parameters={
                "server": stack.hosts[0], "clients": stack.hosts, "dataset": MODELS[model], "model": model,
                "strategy": STRATEGIES[strategy], "rounds": args.rounds, "seed": args.seed, "checkpoint_every": 0})
        central = {model: central_score(MODELS[model], model, seed=args.seed, rounds=args.rounds)
                   for model in {m for m, _ in chosen}}
        for (model, strategy), submitted in runs.items():
            run = wait(submitted.id)
            metric = "concordance" if model == "cox" else "accuracy"
            label = (f"model={model} dataset={MODELS[model]} strategy={strategy} partition={args.partition} "
                     f"missing={args.missing}")
            if not run.state.is_completed():
                print(f"{label} failed: {run.state.message}", flush=True)
                continue
            score = run.state.result().final_metrics[metric]
            print(f"{label} metric={metric} score={score:.4f} central={central[model]:.4f} "
                  f"gap={central[model] - score:+.4f}", flush=True)


def wait(flow_run_id, timeout_s: float = 3600):
    from prefect import get_client

    deadline = time.monotonic() + timeout_s
    with get_client(sync_client=True) as client:
        while True:
            run = client.read_flow_run(flow_run_id)
            if run.state is not None and run.state.is_final():
                return run
            if time.monotonic() > deadline:
                raise SystemExit(f"flow run {flow_run_id} not final after {timeout_s:.0f} s")
            time.sleep(1)


if __name__ == "__main__":
    main()
