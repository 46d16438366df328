"""The flcore server role: the round loop, the one readable story of a federated training.

It runs on the server host for the whole execution (tasks/host/runtime.py starts it). It
finds its clients, checks their schemas, plans the data preparation from their profiles
(federated means for missing values, the union of categories) and the scaling from their sums,
then runs the rounds: sample clients, call `fit` on each (weights or trees go host to host as
role calls, in the wire codec), leave out whoever misses the round's deadline, combine what
came back (tasks/host/aggregation.py: a strategy over weights with DP where asked, or the
ensemble's own rule), pool the clients' evaluation statistics into exact metrics, and send the
round home as an event. Stop, pause and cancel are read between rounds. The coordinator turns
the events into the progress file, MLflow and the outputs (tasks/coordinator/reporter.py); this role
holds no credential of any service.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np

from fedpe.errors import InvalidArgument, NotEnoughClients
from tasks.models.kinds import imputes, model_kind
from tasks.models.registry import build_model
from tasks.resources import versions
from tasks.host.aggregation import EnsembleAggregation, WeightAggregation
from tasks.host.context import RoleContext
from tasks.host.role import ENDED, Role
from tasks.host.specs import ServerSpec, TrainingSpec
from tasks.host.usage import UsageMeter
from tasks.training import combine_feature_sums

TASK_ID = "flcore-server"
CLIENT_TASK = "flcore-client"
#: Bins of the common histogram a median imputation reads: its median is good to about one bin,
#: and few bins keep each bin's count over the hosts' floors (a suppressed bin is left out).
MEDIAN_BINS = 20


def summarize(evals: dict[str, dict], survival: bool) -> tuple[dict, dict[str, dict]]:
    """(pooled metrics, {host: its metrics}) from the clients' evaluations.

    Classifiers: the pooled confusion counts and score histograms give accuracy, balanced
    accuracy, precision, recall, specificity, F1 and ROC AUC exactly (tasks/metrics.py); Cox:
    the sample-weighted concordance. The loss is the sample-weighted mean.
    """
    from tasks.metrics import combine_concordance, combine_statistics, scores

    usable = {h: e for h, e in evals.items() if e.get("stats") is not None and e["num_examples"]}
    total = sum(e["num_examples"] for e in usable.values())
    losses = [(e["loss"], e["num_examples"]) for e in usable.values() if math.isfinite(e["loss"])]
    loss = sum(v * n for v, n in losses) / sum(n for _, n in losses) if losses else float("nan")
    if not usable:
        return {"loss": float("nan"), "num_examples": 0}, {}
    if survival:
        pooled = {**combine_concordance([e["stats"] for e in usable.values()]), "loss": loss, "num_examples": total}
        per_client = {h: {"loss": e["loss"], "concordance": e["stats"]["concordance"], "num_examples": e["num_examples"]}
                      for h, e in usable.items()}
        return pooled, per_client
    pooled = {**scores(combine_statistics([e["stats"] for e in usable.values()])), "loss": loss, "num_examples": total}
    pooled.pop("n", None)
    per_client = {}
    for h, e in usable.items():
        own = scores(e["stats"])
        own.pop("n", None)
        per_client[h] = {**own, "loss": e["loss"], "num_examples": e["num_examples"]}
    return pooled, per_client


def _without_matrix(metrics: dict) -> dict:
    return {k: v for k, v in metrics.items() if k != "confusion_matrix"}


@dataclass
class Training:
    """What the set-up steps hand the rounds."""

    labels: list | None
    features: list[str]
    plan: dict
    mean: np.ndarray | None
    std: np.ndarray | None
    aggregation: WeightAggregation | EnsembleAggregation

    @property
    def state(self):
        return self.aggregation.state

    @property
    def privacy(self):
        return self.aggregation.privacy


class FederatedServer(Role):
    """The server role on its host; its clients are reached through `context.peers`."""

    TASK_ID = TASK_ID

    def __init__(self, context: RoleContext):
        super().__init__(context)
        self.host = context.host
        self.spec = ServerSpec.model_validate(context.spec.params["server"])
        self.training = TrainingSpec.model_validate(context.spec.params["training"])
        self.execution_id = context.spec.execution_id
        self.meter = UsageMeter()
        self.rng = np.random.default_rng(self.training.seed)
        self.log = context.log
        self.control = context.control
        self.peers = context.peers
        self.kind = model_kind(self.training.model)
        self.survival = self.training.model == "cox"

    # -- talking to the clients ---------------------------------------------------------------
    def ask(self, method: str, values: dict[str, object], timeout_s: float) -> tuple[dict, dict]:
        """{host: answer} of `method` on each host's client role, and {host: reason} of the missing."""
        calls = {h: (self.execution_id, CLIENT_TASK, method, v) for h, v in values.items()}
        return self.peers.run_many(calls, time.monotonic() + timeout_s)

    def ask_all(self, method: str, value: object, what: str) -> dict:
        answers, missing = self.ask(method, {h: value for h in self.spec.clients}, self.spec.setup_timeout_s)
        if missing:
            raise NotEnoughClients(f"clients {what}: " + "; ".join(f"{h}: {r}" for h, r in missing.items()),
                                   field="clients")
        return answers

    # -- set-up -------------------------------------------------------------------------------
    def connect(self) -> dict[str, dict]:
        """Each client's description, asked until its role has started on its host (bounded)."""
        deadline = time.monotonic() + self.spec.setup_timeout_s
        described: dict[str, dict] = {}
        last: dict[str, str] = {}
        while len(described) < len(self.spec.clients):
            waiting = [h for h in self.spec.clients if h not in described]
            answers, missing = self.ask("describe", {h: None for h in waiting}, 10.0)
            described.update(answers)
            last.update(missing)
            ended = {h: r for h, r in missing.items() if ENDED in r}  # refused by its policy, or failed
            if ended:
                raise NotEnoughClients("; ".join(ended.values()), field="clients")
            if len(described) < len(self.spec.clients):
                if self.control.should_stop or time.monotonic() > deadline:
                    gone = [h for h in self.spec.clients if h not in described]
                    raise NotEnoughClients(
                        f"client(s) {', '.join(gone)} did not start within {self.spec.setup_timeout_s:.0f} s: "
                        + "; ".join(f"{h}: {last.get(h, '?')}" for h in gone), field="clients")
                time.sleep(0.1)
        return described

    def check_schemas(self, described: dict[str, dict]) -> None:
        """Every client's selected columns exist with the same types, target included."""
        reference_host = self.spec.clients[0]
        reference = dict(described[reference_host]["columns"])
        for host, info in described.items():
            columns = dict(info["columns"])
            for name, dtype in reference.items():
                if name not in columns:
                    raise InvalidArgument(f"dataset: host {host} lacks column {name!r} that {reference_host} has",
                                          field="dataset", details={"host": host, "column": name})
                if columns[name] != dtype:
                    raise InvalidArgument(
                        f"dataset: column {name!r} is {columns[name]} on host {host} but {dtype} on {reference_host}",
                        field="dataset", details={"host": host, "column": name})
            extra = sorted(set(columns) - set(reference))
            if extra:
                raise InvalidArgument(f"dataset: host {host} has column {extra[0]!r} that {reference_host} lacks",
                                      field="dataset", details={"host": host, "column": extra[0]})

    def medians(self, profiles: dict[str, dict]) -> dict[str, float | None]:
        """Every numeric column's federated median, in fed-stats' two passes: common edges from
        the hosts' ranges, then the median of their pooled histograms on those edges."""
        from tasks.prep import federated_medians
        from tasks.stats import global_edges

        edges = global_edges([profiles[h]["ranges"] for h in self.spec.clients], MEDIAN_BINS)
        summaries = self.ask_all("quantiles", {"edges": edges, "min_count": self.spec.min_count},
                                 "failed to send their histograms")
        return federated_medians([summaries[h] for h in self.spec.clients], edges)

    def prepare(self, described: dict[str, dict]) -> Training:
        """Labels, the federation's preparation plan, pooled scaling, the initial model."""
        from tasks.prep import combine_profiles

        labels = None if self.survival else sorted({l for info in described.values() for l in info["labels"]})
        features = described[self.spec.clients[0]]["features"]
        # the columns' dtypes (the same on every host, checked before): the registered model's signature
        self.dtypes = {name: str(dtype) for name, dtype in described[self.spec.clients[0]]["columns"]}
        weights_model = self.kind == "weights"
        # Trees keep their gaps (no fill at all): the median's two passes would release data for nothing.
        median = self.spec.imputation == "median" and imputes(self.kind)
        profiles = self.ask_all("prepare", {"labels": labels, "min_count": self.spec.min_count, "ranges": median},
                                "failed to prepare")
        try:
            medians = self.medians(profiles) if median else None
            plan = combine_profiles([profiles[h] for h in self.spec.clients], features, medians)
        except ValueError as exc:
            raise InvalidArgument(str(exc), field="features") from None
        sums = self.ask_all("setup", {"plan": plan.model_dump(), "missing_indicators": self.spec.missing_indicators,
                                      "impute": imputes(self.kind)}, "failed to apply the preparation plan")
        n_classes = 1 if self.survival else len(labels)
        columns = plan.columns(missing_indicators=self.spec.missing_indicators)
        mean = std = None
        if weights_model:
            mean, std = combine_feature_sums(list(sums.values()))
        self.ask_all("start", {"mean": mean, "std": std, "n_classes": n_classes}, "failed to set up")
        if weights_model:
            model = build_model(self.training.model, len(columns), max(n_classes, 1), seed=self.training.seed,
                                **_constructor_options(self.training))
            if self.spec.initial_weights:  # read from the store by the coordinator, which checked it
                model.set_weights([np.asarray(w) for w in self.context.spec.params["initial_weights"]])
            aggregation = WeightAggregation(self.spec, self.training, model.get_weights(), len(self.sample(0)),
                                            self.rng)
        else:
            aggregation = EnsembleAggregation(self.training, len(columns), n_classes)
        return Training(labels, columns, plan.model_dump(), mean, std, aggregation)

    def sample(self, server_round: int) -> list[str]:
        clients = self.spec.clients
        k = max(self.spec.min_clients, int(np.ceil(self.spec.fraction_fit * len(clients))))
        if k >= len(clients):
            return list(clients)
        return sorted(self.rng.choice(clients, size=k, replace=False).tolist())

    # -- one round ----------------------------------------------------------------------------
    def fit_round(self, server_round: int, t: Training) -> tuple[dict, dict]:
        """Train the round's clients and aggregate; returns (the round's entry, the evaluations).

        Clients evaluate the incoming model before training, so the entry's validation metrics
        (of the previous aggregate) come with these answers; the caller completes the entry of
        the round before with them.
        """
        spec = self.spec
        started = time.perf_counter()
        trainers = t.aggregation.trainers(server_round, self.sample(server_round))
        config = t.aggregation.config(server_round)
        state = t.state
        values = {h: ("fit", {"state": state, "round": server_round, "config": config}) for h in trainers}
        values.update({h: ("evaluate", {"state": state}) for h in spec.clients if h not in trainers})
        calls = {h: (self.execution_id, CLIENT_TASK, method, v) for h, (method, v) in values.items()}
        answers, missing = self.peers.run_many(calls, time.monotonic() + spec.round_timeout_s)
        fits = {h: a for h, a in answers.items() if h in trainers}
        needed = min(spec.min_clients, len(trainers))
        if len(fits) < needed:
            raise NotEnoughClients(
                f"round {server_round}: {len(fits)} of {len(trainers)} clients answered, fewer than "
                f"min_clients={spec.min_clients}; missing: {', '.join(f'{h} ({r})' for h, r in missing.items())}",
                field="min_clients", details={"missing": missing, "round": server_round})
        evals = {h: (a["eval"] if h in fits else a) for h, a in answers.items()}
        t.aggregation.aggregate(server_round, fits)
        train_total = sum(a["train_examples"] for a in fits.values())
        losses = [(a["metrics"]["loss"], a["train_examples"]) for a in fits.values() if "loss" in a["metrics"]]
        entry = {
            "round": server_round, "clients": sorted(fits), "dropped": sorted(h for h in missing if h in trainers),
            "train_loss": sum(v * n for v, n in losses) / max(train_total, 1) if losses else float("nan"),
            "round_ms": round((time.perf_counter() - started) * 1000, 3), "ended_at": time.time(),
            "epsilon": t.privacy.epsilon, "clipping_norm": t.privacy.clip_norm,
        }
        return entry, evals

    def report_round(self, entry: dict, state, evals: dict, history: list[dict]) -> None:
        """A finished round, with its aggregate's validation metrics, into the history and home."""
        pooled, per_client = summarize(evals, self.survival)
        entry.update(_without_matrix(pooled))
        entry["per_client"] = {h: _without_matrix(m) for h, m in per_client.items()}
        history.append(entry)
        every = self.spec.checkpoint_every
        checkpoint = state if every and entry["round"] % every == 0 else None
        self.context.emit("round", entry=entry, checkpoint=checkpoint)
        dropped = f", dropped {', '.join(entry['dropped'])}" if entry.get("dropped") else ""
        privacy = f", epsilon {entry['epsilon']:.3f}" if entry.get("epsilon") is not None else ""
        quality = "concordance" if self.survival else "accuracy"
        self.log.info("round %d/%d: %s %.4f, loss %.4f (%d clients%s, %.1f ms%s)", entry["round"],
                      self.spec.rounds, quality, entry.get(quality, float("nan")), entry.get("loss", float("nan")),
                      len(entry["clients"]), dropped, entry["round_ms"], privacy)

    def evaluate(self, state, timeout_s: float) -> dict:
        answers, _ = self.ask("evaluate", {h: {"state": state} for h in self.spec.clients}, timeout_s)
        return answers

    # -- the story ----------------------------------------------------------------------------
    def run(self) -> dict:
        spec = self.spec
        history: list[dict] = []
        stopped_because, final, t = None, {}, None
        try:
            with self.meter.measure():
                described = self.connect()
                self.check_schemas(described)
                self.context.emit("tags", tags={f"data.fingerprint.{h}": str(d["fingerprint"])
                                                for h, d in described.items()}
                                  | {f"version.server.{k}": v for k, v in versions().items()})
                t = self.prepare(described)
            self.log.info("%d clients ready (%s): %d training records, %d columns after preparation%s; %s",
                          len(described), ", ".join(described), sum(d["rows"] for d in described.values()),
                          len(t.features), "" if t.labels is None else f", {len(t.labels)} classes",
                          "scaling from their sums" if t.mean is not None else "trees on the raw values")
            pending: tuple[dict, object] | None = None  # the last round, waiting for its validation metrics
            for server_round in range(1, spec.rounds + 1):
                if self.control.paused:
                    if pending is not None:  # a pause must not hold the last round's metrics
                        self.report_round(*pending, self.evaluate(pending[1], spec.round_timeout_s), history)
                        pending = None
                    self.context.emit("paused", paused=True)
                    self.control.wait_while_paused()
                    self.context.emit("paused", paused=False)
                if self.control.should_stop:
                    stopped_because = "cancelled" if (self.control.cancelled or self.control.coordinator_lost) \
                        else "stopped"
                    break
                if server_round > t.privacy.max_rounds:
                    stopped_because = (f"privacy budget spent (epsilon {t.privacy.epsilon:.3f} of "
                                       f"{self.training.dp.target_epsilon})")
                    break
                with self.meter.measure():
                    entry, evals = self.fit_round(server_round, t)
                    if pending is not None:
                        self.report_round(*pending, evals, history)
                    pending = (entry, t.state)
            with self.meter.measure():
                finals, missing = self.ask("final", {h: {"state": t.state} for h in spec.clients},
                                           max(spec.round_timeout_s, 30))
                if pending is not None:
                    self.report_round(*pending, {h: f["validation"] for h, f in finals.items()}, history)
                test, test_per_client = summarize({h: f["test"] for h, f in finals.items()}, self.survival)
                validation, _ = summarize({h: f["validation"] for h, f in finals.items()}, self.survival)
                final = {"test": test, "validation": validation, "per_client": test_per_client, "missing": missing}
            status = "cancelled" if stopped_because == "cancelled" else "completed"
            quality = "concordance" if self.survival else "accuracy"
            self.log.info("final model: test %s %.4f, loss %.4f on %d held-out records%s", quality,
                          test.get(quality, float("nan")), test.get("loss", float("nan")), test.get("num_examples", 0),
                          f" (stopped: {stopped_because})" if stopped_because else "")
        finally:
            self.release_clients()
        return {
            "status": status, "stopped_because": stopped_because, "history": history, "final": final,
            "epsilon": t.privacy.epsilon, "state": t.state,
            "model": {"name": self.training.model, "kind": self.kind, "options": self.training.model_options,
                      "n_features": len(t.features), "n_classes": 1 if self.survival else len(t.labels),
                      "mean": t.mean, "std": t.std, "features": t.features, "labels": t.labels, "plan": t.plan,
                      "missing_indicators": spec.missing_indicators, "dtypes": getattr(self, "dtypes", None)},
            "usage": self.meter.report(host=self.host, task=TASK_ID, rounds=len(history)),
        }

    def release_clients(self) -> None:
        """Tell every client it may leave (bounded; a client that misses it leaves when idle)."""
        try:
            self.ask("leave", {h: None for h in self.spec.clients}, 5.0)
        except Exception:
            pass


def _constructor_options(training: TrainingSpec) -> dict:
    """The weight model's constructor keywords (a Cox config also names its columns and steps)."""
    from tasks.host.learners import NewtonLearner

    skip = NewtonLearner.LEARNER_OPTIONS if training.model == "cox" else frozenset()
    return {k: v for k, v in training.model_options.items() if k not in skip}
