"""The flcore server role: the round loop, the one readable story of a federated training.

It runs on the server host for the whole execution (tasks/roles/runtime.py starts it). It
finds its clients, checks their schemas, computes feature scaling from their sums, then runs
the rounds: sample clients, call `fit` on each (weights go host to host as role calls, in the
wire codec), leave out whoever misses the round's deadline, aggregate with the strategy, add DP
noise if asked, and send the round home as an event. Stop, pause and cancel are read between
rounds. The coordinator turns the events into the progress file, MLflow and the outputs
(tasks/roles/reporter.py); this role holds no credential of any service.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np

from fedpe.errors import FedpeError, InvalidArgument
from tasks.models.registry import build_model
from tasks.privacy import PrivacyAccountant, add_gaussian_noise, adaptive_clip_norm
from tasks.resources import versions
from tasks.roles.context import RoleContext
from tasks.roles.runtime import ENDED
from tasks.roles.specs import ServerSpec, TrainingSpec
from tasks.roles.usage import UsageMeter
from tasks.strategies.base import FitResult
from tasks.strategies.registry import build_strategy
from tasks.training import combine_feature_sums

TASK_ID = "flcore-server"
CLIENT_TASK = "flcore-client"


class NotEnoughClients(FedpeError):
    """Raised when fewer than `min_clients` clients answer a round."""

    code = "NOT_ENOUGH_CLIENTS"


def weighted(metrics: dict[str, dict]) -> dict[str, float]:
    """Sample-weighted loss and accuracy over clients' {loss, accuracy, num_examples}."""
    total = sum(m["num_examples"] for m in metrics.values())
    if not total:
        return {"loss": float("nan"), "accuracy": float("nan"), "num_examples": 0}
    return {
        "loss": sum(m["loss"] * m["num_examples"] for m in metrics.values()) / total,
        "accuracy": sum(m["accuracy"] * m["num_examples"] for m in metrics.values()) / total,
        "num_examples": total,
    }


@dataclass
class Privacy:
    """DP state across rounds: the clipping norm, the noise and the accountant."""

    clip_norm: float | None = None
    noise_multiplier: float = 0.0
    accountant: PrivacyAccountant | None = None
    max_rounds: float = math.inf
    epsilon: float | None = None


@dataclass
class Training:
    """What the set-up steps hand the rounds."""

    labels: list
    features: list[str]
    mean: np.ndarray
    std: np.ndarray
    model: object
    weights: list
    strategy: object
    privacy: Privacy = field(default_factory=Privacy)


class FederatedServer:
    """The server role on its host; its clients are reached through `context.peers`."""

    TASK_ID = TASK_ID
    PEER_METHODS: frozenset[str] = frozenset()
    COORDINATOR_METHODS: frozenset[str] = frozenset()
    AUDIT_CALLS = False

    def __init__(self, context: RoleContext):
        self.context = context
        self.host = context.host
        self.spec = ServerSpec.model_validate(context.spec.params["server"])
        self.training = TrainingSpec.model_validate(context.spec.params["training"])
        self.execution_id = context.spec.execution_id
        self.meter = UsageMeter()
        self.rng = np.random.default_rng(self.training.seed)
        self.log = context.log
        self.control = context.control
        self.peers = context.peers

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
        """Every client's dataset has the same columns and types, target included."""
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

    def prepare(self, described: dict[str, dict]) -> Training:
        """Labels, pooled scaling, the initial model and the strategy."""
        labels = sorted({label for info in described.values() for label in info["labels"]})
        sums = self.ask_all("prepare", {"labels": labels}, "failed to prepare")
        mean, std = combine_feature_sums(list(sums.values()))
        self.ask_all("setup", {"mean": mean, "std": std, "n_classes": len(labels)}, "failed to set up")
        features = [c for c, _ in described[self.spec.clients[0]]["columns"] if c != self.training.target]
        model = build_model(self.training.model, len(features), len(labels), seed=self.training.seed,
                            **self.training.model_options)
        if self.spec.initial_weights:  # read from the store by the coordinator, which checked it
            model.set_weights([np.asarray(w) for w in self.context.spec.params["initial_weights"]])
        weights = model.get_weights()
        strategy = build_strategy(self.spec.strategy, learning_rate=self.training.learning_rate,
                                  num_clients=len(self.spec.clients))
        strategy.initialize(weights)
        return Training(labels, features, mean, std, model, weights, strategy, self.privacy())

    def privacy(self) -> Privacy:
        dp = self.training.dp
        if dp is None:
            return Privacy()
        expected = len(self.sample(0))
        accountant = PrivacyAccountant(dp.noise_multiplier, expected / len(self.spec.clients), dp.delta)
        return Privacy(
            clip_norm=dp.clipping_norm,
            noise_multiplier=dp.update_noise_multiplier(expected) if dp.adaptive else dp.noise_multiplier,
            accountant=accountant,
            max_rounds=accountant.rounds_within(dp.target_epsilon) if dp.target_epsilon else math.inf,
        )

    def sample(self, server_round: int) -> list[str]:
        clients = self.spec.clients
        k = max(self.spec.min_clients, int(np.ceil(self.spec.fraction_fit * len(clients))))
        if k >= len(clients):
            return list(clients)
        return sorted(self.rng.choice(clients, size=k, replace=False).tolist())

    # -- one round ----------------------------------------------------------------------------
    def fit_round(self, server_round: int, t: Training) -> tuple[dict, dict]:
        """Train the sampled clients and aggregate; returns (the round's entry, the others' evaluations).

        Clients evaluate the incoming model before training, so the entry's validation metrics
        (of the previous aggregate) come with these answers; the caller completes the entry of
        the round before with them.
        """
        spec, dp = self.spec, self.training.dp
        started = time.perf_counter()
        selected = self.sample(server_round)
        config = t.strategy.client_config(server_round)
        if dp:
            config["clipping_norm"] = t.privacy.clip_norm
        values = {h: ("fit", {"weights": t.weights, "round": server_round, "config": config}) for h in selected}
        values.update({h: ("evaluate", {"weights": t.weights}) for h in spec.clients if h not in selected})
        calls = {h: (self.execution_id, CLIENT_TASK, method, v) for h, (method, v) in values.items()}
        answers, missing = self.peers.run_many(calls, time.monotonic() + spec.round_timeout_s)
        fits = {h: a for h, a in answers.items() if h in selected}
        if len(fits) < spec.min_clients:
            raise NotEnoughClients(
                f"round {server_round}: {len(fits)} of {len(selected)} clients answered, fewer than "
                f"min_clients={spec.min_clients}; missing: {', '.join(f'{h} ({r})' for h, r in missing.items())}",
                field="min_clients", details={"missing": missing, "round": server_round})
        evals = {h: (a["eval"] if h in fits else a) for h, a in answers.items()}
        results = [FitResult(host=h, weights=a["weights"], num_examples=a["num_examples"], metrics=a["metrics"],
                             control_delta=a["control_delta"]) for h, a in fits.items()]
        t.weights = t.strategy.aggregate_fit(server_round, t.weights, results)
        if dp:
            p = t.privacy
            t.weights = add_gaussian_noise(t.weights, p.noise_multiplier, p.clip_norm, len(selected), self.rng)
            if dp.adaptive:
                p.clip_norm = adaptive_clip_norm(
                    p.clip_norm, [bool(a["clipped"]) for a in fits.values()], dp.target_quantile,
                    dp.clip_learning_rate, dp.count_stddev(len(selected)), len(selected), self.rng)
            p.epsilon = p.accountant.epsilon(server_round)
        train_total = sum(a["train_examples"] for a in fits.values())
        entry = {
            "round": server_round, "clients": sorted(fits), "dropped": sorted(h for h in missing if h in selected),
            "train_loss": sum(a["metrics"]["loss"] * a["train_examples"] for a in fits.values()) / max(train_total, 1),
            "round_ms": round((time.perf_counter() - started) * 1000, 3), "ended_at": time.time(),
            "epsilon": t.privacy.epsilon, "clipping_norm": t.privacy.clip_norm,
        }
        return entry, evals

    def report_round(self, entry: dict, weights: list, evals: dict, history: list[dict]) -> None:
        """A finished round, with its aggregate's validation metrics, into the history and home."""
        summary = weighted(evals)
        entry["loss"], entry["accuracy"] = summary["loss"], summary["accuracy"]
        entry["per_client"] = {h: {"loss": e["loss"], "accuracy": e["accuracy"]} for h, e in evals.items()}
        history.append(entry)
        every = self.spec.checkpoint_every
        checkpoint = weights if every and entry["round"] % every == 0 else None
        self.context.emit("round", entry=entry, checkpoint=checkpoint)
        dropped = f", dropped {', '.join(entry['dropped'])}" if entry.get("dropped") else ""
        privacy = f", epsilon {entry['epsilon']:.3f}" if entry.get("epsilon") is not None else ""
        self.log.info("round %d/%d: accuracy %.4f, loss %.4f (%d clients%s, %.1f ms%s)", entry["round"],
                      self.spec.rounds, entry["accuracy"], entry["loss"], len(entry["clients"]), dropped,
                      entry["round_ms"], privacy)

    def evaluate(self, weights: list, timeout_s: float) -> dict:
        answers, _ = self.ask("evaluate", {h: {"weights": weights} for h in self.spec.clients}, timeout_s)
        return answers

    # -- the story ----------------------------------------------------------------------------
    def run(self) -> dict:
        spec = self.spec
        history: list[dict] = []
        status, stopped_because, final, t = "failed", None, {}, None
        try:
            with self.meter.measure():
                described = self.connect()
                self.check_schemas(described)
                self.context.emit("tags", tags={f"data.fingerprint.{h}": str(d["fingerprint"])
                                                for h, d in described.items()}
                                  | {f"version.server.{k}": v for k, v in versions().items()})
                t = self.prepare(described)
            self.log.info("%d clients ready (%s): %d training records, %d features, %d classes; scaling from "
                          "their sums", len(described), ", ".join(described), sum(d["rows"] for d in described.values()),
                          len(t.features), len(t.labels))
            pending: tuple[dict, list] | None = None  # the last round, waiting for its validation metrics
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
                    pending = (entry, t.weights)
            with self.meter.measure():
                finals, missing = self.ask("final", {h: {"weights": t.weights} for h in spec.clients},
                                           max(spec.round_timeout_s, 30))
                if pending is not None:
                    self.report_round(*pending, {h: f["validation"] for h, f in finals.items()}, history)
                final = {"test": weighted({h: f["test"] for h, f in finals.items()}),
                         "validation": weighted({h: f["validation"] for h, f in finals.items()}),
                         "per_client": {h: f["test"] for h, f in finals.items()}, "missing": missing}
            status = "cancelled" if stopped_because == "cancelled" else "completed"
            self.log.info("final model: test accuracy %.4f, loss %.4f on %d held-out records%s",
                          final["test"]["accuracy"], final["test"]["loss"], final["test"]["num_examples"],
                          f" (stopped: {stopped_because})" if stopped_because else "")
        finally:
            self.release_clients()
        return {
            "status": status, "stopped_because": stopped_because, "history": history, "final": final,
            "epsilon": t.privacy.epsilon, "weights": t.weights,
            "model": {"name": self.training.model, "options": self.training.model_options,
                      "n_features": len(t.features), "n_classes": len(t.labels), "mean": t.mean, "std": t.std,
                      "features": t.features, "labels": t.labels},
            "usage": self.meter.report(host=self.host, task=TASK_ID, rounds=len(history)),
        }

    def release_clients(self) -> None:
        """Tell every client it may leave (bounded; a client that misses it leaves when idle)."""
        try:
            self.ask("leave", {h: None for h in self.spec.clients}, 5.0)
        except Exception:
            pass
