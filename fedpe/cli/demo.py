"""`fedpe demo`: flcore on the demo hosts through run_deployment, with live progress per round."""

from __future__ import annotations

import os
import time

from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from fedpe.cli.console import console
from fedpe.errors import ExecutionFailed, JobTimeout


def _new_rounds(store_url: str, execution_id: str, after: int) -> list[dict]:
    """The rounds stored since round `after` (tasks.rounds.read_rounds)."""
    from blocks.store import StoreSpec
    from tasks.rounds import read_rounds

    return read_rounds(StoreSpec(url=store_url), execution_id, after=after)


def _mlflow_run_url(mlflow_uri: str, run_id: str | None) -> str:
    """The run's page in the MLflow UI (its experiment id from the REST API, no mlflow import)."""
    if not run_id:
        return "-"
    import httpx

    auth = (os.environ.get("MLFLOW_TRACKING_USERNAME", ""), os.environ.get("MLFLOW_TRACKING_PASSWORD", ""))
    try:
        run = httpx.get(f"{mlflow_uri}/api/2.0/mlflow/runs/get", params={"run_id": run_id}, timeout=5,
                        auth=auth).json()
        return f"{mlflow_uri}/#/experiments/{run['run']['info']['experiment_id']}/runs/{run_id}"
    except (httpx.HTTPError, KeyError, ValueError):
        return f"{mlflow_uri} (run {run_id})"


def run_demo(stack, *, rounds: int, timeout_s: float = 600, missing: float = 0.0) -> None:
    """A logistic regression, then a random forest, on breast-cancer over every demo host; both summed up."""
    os.environ.update(stack.env(with_secrets=True))
    if missing:
        console.print(f"the hosts' breast-cancer files have {missing:.0%} of their cells blank and a categorical "
                      "column: each training prepares them federatedly (gaps filled with the federated mean, "
                      "categories one-hot over the hosts' union); report.html shows the plan")
    results = [train(stack, model, rounds=rounds, timeout_s=timeout_s) for model in ("logreg", "random_forest")]
    both = Table("model", "test accuracy", "balanced accuracy", "ROC AUC", "F1", "execution",
                 title=f"breast-cancer, {len(stack.hosts)} hosts, {rounds} rounds")
    for model, result in zip(("logreg", "random_forest"), results):
        m = result.final_metrics
        both.add_row(model, f"{m['accuracy']:.4f}", f"{m['balanced_accuracy']:.4f}", f"{m['roc_auc']:.4f}",
                     f"{m['f1']:.4f}", result.execution_id[:8])
    console.print(both)


def train(stack, model: str, *, rounds: int, timeout_s: float):
    """One flcore run through run_deployment, its rounds shown live; returns its FlcoreResult."""
    from prefect import get_client
    from prefect.deployments import run_deployment

    hosts = stack.hosts
    parameters = {"server": hosts[0], "clients": hosts, "dataset": "breast-cancer", "model": model,
                  "strategy": {"name": "fedavg"}, "rounds": rounds}
    console.print(f"[bold]flcore[/bold]: server {hosts[0]}, clients {', '.join(hosts)}, breast-cancer, "
                  f"{model}, FedAvg, {rounds} rounds (run_deployment('flcore/default'))")
    started = time.monotonic()
    flow_run = run_deployment("flcore/default", parameters=parameters, timeout=0)
    execution_id = str(flow_run.id)
    shown = 0  # the last round printed
    with get_client(sync_client=True) as client, Progress(
        TextColumn("[bold]round {task.completed}/{task.total}"), BarColumn(), TextColumn("{task.description}"),
        TimeElapsedColumn(), console=console,
    ) as bar:
        task = bar.add_task("starting", total=rounds)
        while True:
            state = client.read_flow_run(flow_run.id).state
            for entry in _new_rounds(stack.config.store, execution_id, shown):
                bar.console.print(f"  round {entry['round']:3d}  accuracy {entry['accuracy']:.4f}  "
                                  f"loss {entry['loss']:.4f}  clients {len(entry['clients'])}  {entry['round_ms']:.1f} ms")
                shown = entry["round"]
                bar.update(task, completed=shown, description=f"accuracy {entry['accuracy']:.4f}")
            if state and state.is_final():
                break
            if time.monotonic() - started > timeout_s:
                raise JobTimeout(f"flcore did not finish within {timeout_s:.0f} s (execution {execution_id})")
            time.sleep(0.3)
    if not state.is_completed():
        raise ExecutionFailed(f"flcore ended {state.name}: {state.message}")
    result = state.result()
    summary = Table(title=f"flcore ({model}) finished in {time.monotonic() - started:.1f} s", show_header=False)
    summary.add_row("execution", execution_id)
    summary.add_row("ran on", f"server {result.server}; clients {', '.join(result.clients)}")
    summary.add_row("test accuracy", f"{result.final_metrics['accuracy']:.4f} on {result.final_metrics['num_examples']} held-out records")
    summary.add_row("test loss", f"{result.final_metrics['loss']:.4f}")
    summary.add_row("outputs", f"{result.outputs} (report.html on {result.server})")
    summary.add_row("MLflow run", _mlflow_run_url(stack.config.mlflow_uri, result.mlflow_run_id))
    summary.add_row("model", str(result.model_uri))
    console.print(summary)
    return result
