"""flcore: federated training with a server role and client roles.

The flow reads as: validate, place the roles on their hosts, follow them, collect the result.
The rounds live in the server role on its host (tasks/host/server.py); the flow, on the
coordinator, turns the server's events into the progress file, MLflow and the outputs
(tasks/coordinator/reporter.py).
"""


import json
import math
from typing import Annotated, Literal

from prefect import flow
from prefect.artifacts import create_table_artifact
from pydantic import BaseModel, Field

from blocks import RESULTS_BLOCK
from blocks.store import parts_in_store
from fedpe.errors import InvalidArgument
from flows.catalog import CheckContext
from flows.params import DatasetName, HostName
from flows.runtime import require, role_task_runner, run_context
from flows.spec import TaskSpec, ToolSpec
from tasks.hosts import check_hosts
from tasks.privacy import DPConfig
from tasks.resources import versions
from tasks.coordinator.remote import Relay, follow
from tasks.coordinator.reporter import RoundReporter
from tasks.host.specs import RoleSpec, ServerSpec, TrainingSpec
from tasks.models.config import LogregConfig, ModelParameter
from tasks.strategies.config import FedAvgConfig, StrategyConfig

TOOL = ToolSpec(
    id="flcore",
    name="Federated training (flcore)",
    description="Trains a model across hosts without moving their data (logistic regression, an MLP, a linear "
                "SVM, elastic net, Cox, a PyTorch MLP, random forest, XGBoost): a server role aggregates the "
                "clients' updates each round with the chosen strategy (FedAvg, FedProx, FedAdam, Krum, SCAFFOLD, "
                "...) or the ensemble's own rule, optionally with differential privacy; missing values and "
                "categories are prepared federatedly; metrics and the model go to MLflow and the store.",
    mode="federated",
    single_role=False,
    tasks=[
        TaskSpec(id="flcore-server", name="flcore-server", tool="flcore", role="server",
                 description="Runs the rounds and aggregates; writes metrics, curves, checkpoints and the model."),
        TaskSpec(id="flcore-client", name="flcore-client", tool="flcore", role="client",
                 description="Trains on its host's data; sends back only weights, sample counts and metrics."),
    ],
)


class FlcoreResult(BaseModel):
    """What a `run_deployment("flcore/default")` caller reads from the finished run."""

    execution_id: str
    status: str
    stopped_because: str | None = None
    server: str
    clients: list[str]
    final_metrics: dict
    history: list[dict]
    mlflow_run_id: str | None
    model_uri: str | None
    epsilon: float | None = None
    outputs: str
    client_roles: dict[str, dict] = {}


def checkpoint_parts(ref: str, store_url: str) -> list[str]:
    """`initial_weights` as path components inside the store: {execution}/{host}/.../NAME.npz."""
    try:
        parts = parts_in_store(ref, store_url)
    except ValueError as exc:
        raise InvalidArgument(f"initial_weights: {exc}; give a checkpoint of an execution in the store, e.g. "
                              f"EXECUTION_ID/HOST/checkpoints/round-0003.npz", field="initial_weights") from None
    require(len(parts) >= 3 and parts[-1].endswith(".npz") and not parts[1].startswith("_"),
            f"initial_weights: {ref!r} is not a model file of an execution "
            f"(EXECUTION_ID/HOST/checkpoints/round-NNNN.npz or EXECUTION_ID/HOST/model_final.npz)", "initial_weights")
    return parts


def check(params: dict, ctx: CheckContext) -> None:
    """Cross-field checks, run by the flow first and by the API before it submits."""
    from tasks.policy import check_advertised

    connected, disabled, records, owner = ctx.connected, ctx.disabled, ctx.records, ctx.owner

    server, clients = params["server"], list(params["clients"])
    check_hosts([server], connected, disabled, field="server")
    check_hosts(clients, connected, disabled, field="clients")
    check_advertised(records.get(server), server, field="server", tool="flcore", task="flcore-server", owner=owner,
                     dataset=None, params={})
    require(len(clients) >= 1, "clients: at least one client host is needed", "clients")
    strategy = params["strategy"]
    from tasks.models.config import model_config_of
    from tasks.models.kinds import combination_problem, dependency_problem, model_kind
    from tasks.prep import parse_features

    # What the model can be combined with comes first: no strategy option matters if it cannot.
    model = model_config_of(params.get("model") or "logreg")
    for problem in (combination_problem(model.name, strategy, params.get("dp")), dependency_problem(model.name)):
        if problem:
            require(False, problem[1], problem[0])
    needed = strategy.required_clients()
    per_round = max(params["min_clients"], math.ceil(params["fraction_fit"] * len(clients)))
    require(per_round <= len(clients) or params["fraction_fit"] == 1.0,
            f"min_clients: {params['min_clients']} is more than the {len(clients)} clients given", "min_clients")
    require(params["min_clients"] <= len(clients),
            f"min_clients: {params['min_clients']} is more than the {len(clients)} clients given", "min_clients")
    field = "strategy.m" if strategy.name == "multikrum" and strategy.m > 2 * strategy.f + 3 else "strategy.f"
    require(min(per_round, len(clients)) >= needed,
            f"{field}: {strategy.name} needs at least {needed} clients per round, got {min(per_round, len(clients))}",
            field if strategy.name in ("krum", "multikrum", "bulyan") else "clients")
    dp = params.get("dp")
    client_params = {"dp": dp.model_dump() if dp is not None else None, "rounds": params.get("rounds", 1),
                     "sampling_rate": min(1.0, per_round / len(clients))}
    targets = [model.duration, model.event] if model.name == "cox" else [params["target"]]
    try:
        features = parse_features(params.get("features"))
    except ValueError as exc:
        require(False, str(exc) if str(exc).startswith("features") else f"features: {exc}", "features")
    for host in clients:
        check_advertised(records.get(host), host, field="clients", tool="flcore", task="flcore-client", owner=owner,
                         dataset=params["dataset"], params=client_params)
        datasets = {d["name"]: d for d in (records.get(host) or {}).get("datasets", [])}
        require(params["dataset"] in datasets,
                f"dataset: {params['dataset']!r} is not in the catalogue of host {host}", "dataset")
        columns = {c["name"] for c in datasets[params["dataset"]].get("columns", [])}
        for column in targets:
            field = "target" if model.name != "cox" else f"model.{'duration' if column == model.duration else 'event'}"
            require(column in columns, f"{field}: column {column!r} is not in {params['dataset']} on host {host}",
                    field)
        for column in features or []:
            require(column in columns, f"features: column {column!r} is not in {params['dataset']} on host {host}",
                    "features")
            require(column not in targets, f"features: {column!r} is the target and cannot be a feature", "features")
    if params.get("initial_weights"):
        require(model_kind(model.name) == "weights",
                f"initial_weights: {model.name} is an ensemble; only weight models start from a checkpoint",
                "initial_weights")
        if ctx.store_url:
            checkpoint_parts(params["initial_weights"], ctx.store_url)
    if params.get("dp") is not None and params["dp"].adaptive:
        try:
            params["dp"].update_noise_multiplier(per_round)
        except ValueError as exc:
            require(False, f"dp.clipped_count_stddev: {exc}", "dp.clipped_count_stddev")


@flow(name="flcore", description=TOOL.description, task_runner=role_task_runner(),
      persist_result=True, result_storage=RESULTS_BLOCK)
def flcore(
    server: HostName,
    clients: list[HostName],
    dataset: DatasetName = "breast-cancer",
    target: str = "target",
    features: list[str] | None = None,
    model: ModelParameter = LogregConfig(),
    strategy: StrategyConfig = FedAvgConfig(),
    rounds: Annotated[int, Field(ge=1, le=1000)] = 20,
    local_epochs: Annotated[int, Field(ge=1, le=1000)] = 2,
    batch_size: Annotated[int | None, Field(ge=1, le=100000)] = 32,
    learning_rate: Annotated[float, Field(gt=0, le=10)] = 0.1,
    fraction_fit: Annotated[float, Field(gt=0, le=1)] = 1.0,
    min_clients: Annotated[int, Field(ge=1, le=1000)] = 1,
    round_timeout_s: Annotated[float, Field(gt=0, le=3600)] = 60.0,
    seed: int = 0,
    validation_fraction: Annotated[float, Field(ge=0.05, le=0.5)] = 0.2,
    dp: DPConfig | None = None,
    initial_weights: str | None = None,
    checkpoint_every: Annotated[int, Field(ge=0, le=1000)] = 1,
    missing_indicators: bool = False,
    imputation: Literal["mean", "median"] = "mean",
    min_count: Annotated[int, Field(ge=2, le=100000)] = 5,
) -> FlcoreResult:
    """Federated training of `model` on `dataset` across `clients`, aggregated on `server`.

    Args:
        server: The host that runs the rounds and aggregates (it may be a client too).
        clients: The hosts that train on their own data; only weights and counts leave them.
        dataset: A dataset in every client's catalogue.
        target: The label column (Cox: its model names the duration and event columns).
        features: The columns to train on; every column but the target when empty (FEM's train_labels).
        model: The model with its own options: logreg, mlp, linear_svm, elastic_net, cox, torch_mlp,
            random_forest, weighted_random_forest or xgboost (or just its name, for its defaults).
        strategy: How the server aggregates weight models' updates, with that strategy's own options
            (forests and boosters combine by their own rule and run under fedavg).
        rounds: Federated rounds to run.
        local_epochs: Passes over its training split each client makes per round.
        batch_size: Records per local step; empty for full batch.
        learning_rate: Clients' learning rate.
        fraction_fit: Share of the clients trained each round (the rest only evaluate).
        min_clients: Fewest answers a round needs; fewer fails the execution naming the missing hosts.
        round_timeout_s: Seconds a round waits; slower clients miss that round and may rejoin the next.
        seed: Seed of the split, the initial model and the client sampling.
        validation_fraction: Share of each client's training file kept for validation.
        dp: Differential privacy: client-side clipping (fixed or adaptive) with Gaussian noise and RDP accounting.
        initial_weights: A checkpoint of one of your executions to start from,
            EXECUTION_ID/HOST/checkpoints/round-NNNN.npz (or its store URL).
        checkpoint_every: Keep the global model every N rounds (0: the final model only).
        missing_indicators: Add a 0/1 column for each numeric column with missing values.
        imputation: What fills a missing number: the federated mean (exact) or median (from the hosts'
            histograms on 20 common bins, good to about one bin).
        min_count: Fewest records a category needs on a host before the federation learns its name
            (raised to the host policy's floor).
    """
    ctx = run_context()
    params = dict(server=server, clients=clients, dataset=dataset, target=target, strategy=strategy,
                  min_clients=min_clients, fraction_fit=fraction_fit, dp=dp, initial_weights=initial_weights,
                  rounds=rounds, model=model, features=features)
    check(params, ctx.check_context())
    if initial_weights:
        parts = checkpoint_parts(initial_weights, ctx.store.url)
        ctx.check_readable(parts[0], field="initial_weights")
        require(ctx.store.exists(*parts), f"initial_weights: no file {'/'.join(parts)} in the store", "initial_weights")
        initial_weights = "/".join(parts)

    from tasks.models.config import model_config_of
    from tasks.prep import parse_features

    chosen = model_config_of(model)
    training = TrainingSpec(dataset=dataset, target=target, features=parse_features(features), model=chosen.name,
                            model_options=chosen.options(), seed=seed, validation_fraction=validation_fraction,
                            local_epochs=local_epochs, batch_size=batch_size, learning_rate=learning_rate, dp=dp)
    spec = ServerSpec(
        execution_id=ctx.execution_id, flow_run_id=ctx.flow_run_id, owner=ctx.owner, clients=list(clients),
        strategy=strategy,
        rounds=rounds, fraction_fit=fraction_fit, min_clients=max(min_clients, strategy.required_clients()),
        round_timeout_s=round_timeout_s, checkpoint_every=checkpoint_every, initial_weights=initial_weights,
        experiment="flcore", min_count=min_count, missing_indicators=missing_indicators, imputation=imputation,
        parameters={"server": server, "clients": ",".join(clients), "dataset": dataset, "target": target,
                    "features": ",".join(training.features) if training.features else "(all but the target)",
                    "model": json.dumps(chosen.model_dump()), "strategy": json.dumps(strategy.model_dump()),
                    "rounds": rounds, "local_epochs": local_epochs, "batch_size": batch_size,
                    "learning_rate": learning_rate, "fraction_fit": fraction_fit, "min_clients": min_clients,
                    "seed": seed, "missing_indicators": missing_indicators, "imputation": imputation, "min_count": min_count,
                    "dp": json.dumps(dp.model_dump()) if dp else None},
    )
    idle_timeout_s = max(300.0, 5 * round_timeout_s)
    initial = None
    if initial_weights:
        from tasks.coordinator.reporter import npz_to_weights

        initial = npz_to_weights(ctx.store.read_bytes(*initial_weights.split("/")))
    roles = ctx.roles(with_control=True)
    common = dict(execution_id=ctx.execution_id, flow_run_id=ctx.flow_run_id, tool="flcore", owner=ctx.owner,
                  dataset=dataset, idle_timeout_s=idle_timeout_s)
    expected = max(spec.min_clients, math.ceil(fraction_fit * len(clients)))
    # Every role is placed on its host at once; the Prefect task runs that follow them come after.
    server_run = roles.start(RoleSpec(
        task="flcore-server", host=server, peers=list(clients), **common,
        params={"server": spec.model_dump(mode="python"), "training": training.model_dump(mode="python"),
                "initial_weights": initial}))
    client_runs = {host: roles.start(RoleSpec(
        task="flcore-client", host=host, server=server, **common,
        params={"training": training.model_dump(mode="python"), "rounds": rounds,
                "sampling_rate": min(1.0, expected / len(clients)),
                "dp": dp.model_dump(mode="python") if dp else None})) for host in clients}
    reporter = RoundReporter(
        store=ctx.store, execution_id=ctx.execution_id, host=server, tool="flcore", rounds=rounds,
        tracking_uri=ctx.tracking.tracking_uri, experiment=spec.experiment,
        tags={"fedpe.execution_id": ctx.execution_id, "fedpe.flow_run_id": ctx.flow_run_id,
              "fedpe.owner": ctx.owner, "mlflow.user": ctx.owner, "fedpe.server": server,
              "fedpe.clients": ",".join(clients), "fedpe.seed": str(seed),
              **{f"version.{k}": v for k, v in versions().items()}},
        params=spec.parameters, checkpoint_every=checkpoint_every, model=chosen.name)
    server_future = follow(roles, server_run, Relay(ctx.store, ctx.execution_id, server,
                                                    {k: reporter.on_event for k in ("round", "tags", "paused")}))
    client_futures = {host: follow(roles, run, Relay(ctx.store, ctx.execution_id, host))
                      for host, run in client_runs.items()}
    try:
        outcome = server_future.result(timeout=spec.setup_timeout_s + rounds * (round_timeout_s + 5) + 600)
    except BaseException as exc:
        from prefect.exceptions import TerminationSignal

        # A cancel reaches this process as a termination signal (the runner ends the run).
        cancelled = isinstance(exc, (TerminationSignal, KeyboardInterrupt)) or roles.watcher.cancelled
        reporter.finish("cancelled" if cancelled else "failed", {}, None)
        roles.give_up_after(30)
        raise
    finally:
        roles.give_up_after(60)  # clients leave on the server's word; a lost host must not hold the result
    status = outcome["status"]
    from tasks.tracking import FederatedModel

    packaged = FederatedModel(outcome["model"], outcome["state"]) if status == "completed" else None
    reporter.finish(status, outcome["final"], outcome["state"] if status != "failed" else None, packaged,
                    labels=outcome["model"]["labels"])
    client_roles = {}
    for host, future in client_futures.items():
        try:  # a host that died mid-run was a dropout; its role's failure must not sink the result
            client_roles[host] = {k: v for k, v in future.result(timeout=idle_timeout_s + 60).items() if k != "usage"}
        except Exception as exc:
            client_roles[host] = {"host": host, "error": f"{type(exc).__name__}: {exc}"[:300]}
    roles.close()

    result = FlcoreResult(
        execution_id=ctx.execution_id, status=status, stopped_because=outcome["stopped_because"],
        server=server, clients=list(clients),
        final_metrics={**outcome["final"].get("test", {}), "per_client": outcome["final"].get("per_client", {}),
                       "validation": outcome["final"].get("validation", {})},
        history=reporter.history, mlflow_run_id=reporter.mlflow_run_id, model_uri=reporter.model_uri,
        epsilon=outcome["epsilon"], outputs=ctx.store.url_of(ctx.execution_id), client_roles=client_roles,
    )
    ctx.store.write_bytes(result.model_dump_json(indent=2).encode(), ctx.execution_id, server, "summary.json")
    ctx.save_result(result)
    quality = "concordance" if chosen.name == "cox" else "accuracy"
    create_table_artifact(
        key="flcore-rounds",
        table=[{"round": h["round"], quality: round(h.get(quality, float("nan")), 4),
                "loss": round(h.get("loss", float("nan")), 4), "clients": len(h["clients"]),
                "dropped": ", ".join(h["dropped"])} for h in result.history],
        description=f"flcore rounds; final test {quality} {result.final_metrics.get(quality)}",
    )
    return result
