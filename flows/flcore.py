"""flcore: federated training with a server role and client roles.

The flow reads as its steps: `plan` (check, fix the training and the rounds), `place` (every
role on its host), `follow_rounds` (the server's rounds into progress, MLflow and the store),
`collect` (the clients' own outcomes) and `publish` (the result, stored once for the API).
The rounds live in the server role on its host (tasks/host/server.py); the flow, on the
coordinator, turns the server's events into the stored rounds (tasks/rounds.py), the progress
header, MLflow and the outputs (tasks/coordinator/reporter.py).
"""


import json
import math
from dataclasses import dataclass, field
from typing import Annotated, Literal

from prefect import flow
from prefect.artifacts import create_table_artifact
from pydantic import BaseModel, Field

from blocks import RESULTS_BLOCK
from blocks.store import parts_in_store
from fedpe.errors import InvalidArgument
from flows.catalog import CheckContext
from flows.params import DatasetName, HostName
from flows.runtime import RunContext, advertised_dataset, require, role_task_runner, run_context
from flows.spec import TaskSpec, ToolSpec
from tasks.hosts import check_hosts
from tasks.privacy import DPConfig
from tasks.resources import versions
from tasks.coordinator.remote import Relay, RemoteRoles, RoleRun, follow
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
    from tasks.features import parse_features

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
        columns = {c["name"] for c in advertised_dataset(records.get(host), host, params["dataset"]).get("columns", [])}
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
    parameters = dict(locals())  # the flow's own parameters, as the caller gave them
    ctx = run_context()
    planned = plan(ctx, parameters)
    placed = place(ctx, planned)
    outcome, reporter = follow_rounds(ctx, planned, placed)
    return publish(ctx, planned, outcome, reporter, collect(placed, planned))


# -- the flow's steps, in the order it takes them -------------------------------------------------

@dataclass
class Plan:
    """What the flow decided before anything runs: each client's training, the server's rounds."""

    server: str
    clients: list[str]
    model_name: str
    training: TrainingSpec
    spec: ServerSpec
    dp: DPConfig | None
    seed: int
    #: Clients trained per round (the accountant's and the clients' sampling rate).
    expected: int
    #: How long a client waits for its server's next call before it leaves.
    idle_timeout_s: float
    #: The checkpoint's weights, read from the store here (hosts never reach the store).
    initial: list | None = None


def plan(ctx: RunContext, p: dict) -> Plan:
    """Check the parameters once more (the API did the same), then fix the clients' training and
    the server's rounds; refuses a checkpoint the owner may not read."""
    from tasks.models.config import model_config_of
    from tasks.features import parse_features

    check(p, ctx.check_context())
    initial_weights = p["initial_weights"]
    if initial_weights:
        parts = checkpoint_parts(initial_weights, ctx.store.url)
        ctx.check_readable(parts[0], field="initial_weights")
        require(ctx.store.exists(*parts), f"initial_weights: no file {'/'.join(parts)} in the store", "initial_weights")
        initial_weights = "/".join(parts)
    chosen, strategy, dp, clients = model_config_of(p["model"]), p["strategy"], p["dp"], list(p["clients"])
    training = TrainingSpec(dataset=p["dataset"], target=p["target"], features=parse_features(p["features"]),
                            model=chosen.name, model_options=chosen.options(), seed=p["seed"],
                            validation_fraction=p["validation_fraction"], local_epochs=p["local_epochs"],
                            batch_size=p["batch_size"], learning_rate=p["learning_rate"], dp=dp)
    recorded = {name: p[name] for name in ("server", "dataset", "target", "rounds", "local_epochs", "batch_size",
                                           "learning_rate", "fraction_fit", "min_clients", "seed",
                                           "missing_indicators", "imputation", "min_count")}
    spec = ServerSpec(
        execution_id=ctx.execution_id, flow_run_id=ctx.flow_run_id, owner=ctx.owner, clients=clients,
        strategy=strategy, rounds=p["rounds"], fraction_fit=p["fraction_fit"],
        min_clients=max(p["min_clients"], strategy.required_clients()), round_timeout_s=p["round_timeout_s"],
        checkpoint_every=p["checkpoint_every"], initial_weights=initial_weights, experiment="flcore",
        min_count=p["min_count"], missing_indicators=p["missing_indicators"], imputation=p["imputation"],
        parameters={**recorded, "clients": ",".join(clients),
                    "features": ",".join(training.features) if training.features else "(all but the target)",
                    "model": json.dumps(chosen.model_dump()), "strategy": json.dumps(strategy.model_dump()),
                    "dp": json.dumps(dp.model_dump()) if dp else None},
    )
    initial = None
    if initial_weights:
        from tasks.coordinator.reporter import npz_to_weights

        initial = npz_to_weights(ctx.store.read_bytes(*initial_weights.split("/")))
    return Plan(server=p["server"], clients=clients, model_name=chosen.name, training=training, spec=spec, dp=dp,
                seed=p["seed"], expected=max(spec.min_clients, math.ceil(p["fraction_fit"] * len(clients))),
                idle_timeout_s=max(300.0, 5 * p["round_timeout_s"]), initial=initial)


@dataclass
class Placed:
    """The roles on their hosts, and who follows them."""

    roles: RemoteRoles
    server: RoleRun
    clients: dict[str, RoleRun]
    client_futures: dict = field(default_factory=dict)


def place(ctx: RunContext, planned: Plan) -> Placed:
    """Every role on its host at once; the Prefect task runs that follow them come after."""
    roles = ctx.roles(with_control=True)
    common = dict(execution_id=ctx.execution_id, flow_run_id=ctx.flow_run_id, tool="flcore", owner=ctx.owner,
                  dataset=planned.training.dataset, idle_timeout_s=planned.idle_timeout_s)
    training, dp = planned.training.model_dump(mode="python"), planned.dp
    server_run = roles.start(RoleSpec(
        task="flcore-server", host=planned.server, peers=planned.clients, **common,
        params={"server": planned.spec.model_dump(mode="python"), "training": training,
                "initial_weights": planned.initial}))
    client_runs = {host: roles.start(RoleSpec(
        task="flcore-client", host=host, server=planned.server, **common,
        params={"training": training, "rounds": planned.spec.rounds,
                "sampling_rate": min(1.0, planned.expected / len(planned.clients)),
                "dp": dp.model_dump(mode="python") if dp else None})) for host in planned.clients}
    return Placed(roles, server_run, client_runs)


def follow_rounds(ctx: RunContext, planned: Plan, placed: Placed) -> tuple[dict, RoundReporter]:
    """Follow the server role's rounds into the store (each round once, and the progress header) and
    MLflow, to its outcome; a cancel or a failure is reported as such before it is raised."""
    spec, server = planned.spec, planned.server
    reporter = RoundReporter(
        store=ctx.store, execution_id=ctx.execution_id, host=server, tool="flcore", rounds=spec.rounds,
        tracking_uri=ctx.tracking.tracking_uri, experiment=spec.experiment,
        tags={"fedpe.execution_id": ctx.execution_id, "fedpe.flow_run_id": ctx.flow_run_id,
              "fedpe.owner": ctx.owner, "mlflow.user": ctx.owner, "fedpe.server": server,
              "fedpe.clients": ",".join(planned.clients), "fedpe.seed": str(planned.seed),
              **{f"version.{k}": v for k, v in versions().items()}},
        params=spec.parameters, checkpoint_every=spec.checkpoint_every, model=planned.model_name)
    roles = placed.roles
    server_future = follow(roles, placed.server, Relay(ctx.store, ctx.execution_id, server,
                                                       {k: reporter.on_event for k in ("round", "tags", "paused")}))
    placed.client_futures = {host: follow(roles, run, Relay(ctx.store, ctx.execution_id, host))
                             for host, run in placed.clients.items()}
    try:
        outcome = server_future.result(timeout=spec.setup_timeout_s + spec.rounds * (spec.round_timeout_s + 5) + 600)
    except BaseException as exc:
        from prefect.exceptions import TerminationSignal

        # A cancel reaches this process as a termination signal (the runner ends the run).
        cancelled = isinstance(exc, (TerminationSignal, KeyboardInterrupt)) or roles.watcher.cancelled
        reporter.finish("cancelled" if cancelled else "failed", {}, None)
        roles.give_up_after(30)
        raise
    finally:
        roles.give_up_after(60)  # clients leave on the server's word; a lost host must not hold the result
    from tasks.tracking import FederatedModel

    status = outcome["status"]
    packaged = FederatedModel(outcome["model"], outcome["state"]) if status == "completed" else None
    reporter.finish(status, outcome["final"], outcome["state"] if status != "failed" else None, packaged,
                    labels=outcome["model"]["labels"])
    return outcome, reporter


def collect(placed: Placed, planned: Plan) -> dict[str, dict]:
    """Each client role's own outcome; a host that died mid-run was a dropout, not the result's failure."""
    client_roles = {}
    for host, future in placed.client_futures.items():
        try:
            client_roles[host] = {k: v for k, v in future.result(timeout=planned.idle_timeout_s + 60).items()
                                  if k != "usage"}
        except Exception as exc:
            client_roles[host] = {"host": host, "error": f"{type(exc).__name__}: {exc}"[:300]}
    placed.roles.close()
    return client_roles


def publish(ctx: RunContext, planned: Plan, outcome: dict, reporter: RoundReporter,
            client_roles: dict[str, dict]) -> FlcoreResult:
    """The result, stored once where the API reads it (`_result.json`, `RunContext.save_result`),
    the user's copy among the server host's outputs (`summary.json`, which the README lists), and
    the rounds as a Prefect table artifact. Prefect persists the same value for `run_deployment`."""
    final = outcome["final"]
    result = FlcoreResult(
        execution_id=ctx.execution_id, status=outcome["status"], stopped_because=outcome["stopped_because"],
        server=planned.server, clients=planned.clients,
        final_metrics={**final.get("test", {}), "per_client": final.get("per_client", {}),
                       "validation": final.get("validation", {})},
        history=reporter.history, mlflow_run_id=reporter.mlflow_run_id, model_uri=reporter.model_uri,
        epsilon=outcome["epsilon"], outputs=ctx.store.url_of(ctx.execution_id), client_roles=client_roles,
    )
    ctx.store.write_bytes(result.model_dump_json(indent=2).encode(), ctx.execution_id, planned.server, "summary.json")
    ctx.save_result(result)
    quality = "concordance" if planned.model_name == "cox" else "accuracy"
    create_table_artifact(
        key="flcore-rounds",
        table=[{"round": h["round"], quality: round(h.get(quality, float("nan")), 4),
                "loss": round(h.get("loss", float("nan")), 4), "clients": len(h["clients"]),
                "dropped": ", ".join(h["dropped"])} for h in result.history],
        description=f"flcore rounds; final test {quality} {result.final_metrics.get(quality)}",
    )
    return result
