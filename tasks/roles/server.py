"""The flcore server role: the round loop, the one readable story of a federated training.

One Prefect task on the server host for the whole execution. It finds the clients' actors,
checks their schemas, computes feature scaling from their sums, then runs the rounds: sample
clients, call `fit` on each actor (weights go worker to worker), leave out whoever misses the
round's deadline, aggregate with the strategy, add DP noise if asked, hand the round to the
reporter thread. Stop, pause and cancel are read between rounds.
"""

from __future__ import annotations

import json
import logging
import os
import time

import numpy as np
from prefect import task
from prefect.cache_policies import NO_CACHE

from blocks.store import StoreSpec
from fedpe.errors import FedpeError, InvalidArgument
from tasks.conventions import REPORTS_DIR, report_file
from tasks.models.registry import build_model
from tasks.privacy import PrivacyAccountant, add_gaussian_noise, adaptive_clip_norm
from tasks.resources import versions
from tasks.roles.client import actor_variable, done_event
from tasks.roles.control import ControlWatcher
from tasks.roles.reporter import RoundReporter, npz_to_weights
from tasks.roles.specs import ServerSpec, TrainingSpec
from tasks.roles.usage import UsageMeter
from tasks.strategies.base import FitResult
from tasks.strategies.registry import build_strategy
from tasks.training import combine_feature_sums

TASK_ID = "flcore-server"


class NotEnoughClients(FedpeError):
    """Raised when fewer than `min_clients` clients answer a round."""

    code = "NOT_ENOUGH_CLIENTS"


def _run_logger() -> logging.LoggerAdapter | logging.Logger:
    """The task run's Prefect logger (its lines reach the execution's logs), or a plain one."""
    try:
        from prefect import get_run_logger

        return get_run_logger()
    except Exception:  # outside a Prefect run (unit use)
        return logging.getLogger("fedpe.flcore")


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


class _Failed:
    """A call that could not even be sent (the actor's worker is gone)."""

    def __init__(self, exc: BaseException):
        self.exc = exc

    def result(self, timeout=None):
        raise self.exc


def call(actor, method: str, *args):
    """Start an actor call; a lost actor raises at attribute access, so capture that too."""
    try:
        return getattr(actor, method)(*args)
    except Exception as exc:
        return _Failed(exc)


def gather(calls: dict, deadline: float) -> tuple[dict, dict]:
    """Results of actor calls that finish before `deadline`; the rest as {host: reason}."""
    results, missing = {}, {}
    for host, future in calls.items():
        try:
            results[host] = future.result(timeout=max(0.001, deadline - time.monotonic()))
        except TimeoutError:
            missing[host] = "timeout"
        except Exception as exc:  # a dead host is a dropout, not the end of the execution
            missing[host] = f"{type(exc).__name__}: {exc}"[:200]
    return results, missing


class FederatedServer:
    def __init__(self, host: str, spec: ServerSpec, training: TrainingSpec, store: StoreSpec,
                 tracking_uri: str | None):
        self.host = host
        self.spec = spec
        self.training = training
        self.store = store
        self.tracking_uri = tracking_uri
        self.meter = UsageMeter()
        self.rng = np.random.default_rng(training.seed)
        self.log = _run_logger()

    # -- set-up -------------------------------------------------------------------------------
    def connect(self) -> dict:
        """Each client's actor, handed over through a Dask Variable by its role (bounded wait)."""
        from distributed import Variable, get_client

        client = get_client()
        actors, deadline = {}, time.monotonic() + self.spec.setup_timeout_s
        for host in self.spec.clients:
            variable = Variable(actor_variable(self.spec.execution_id, host), client=client)
            try:
                future = variable.get(timeout=max(0.1, deadline - time.monotonic()))
                actors[host] = future.result(timeout=max(0.1, deadline - time.monotonic()))
            except Exception as exc:
                raise NotEnoughClients(f"client {host} did not start within {self.spec.setup_timeout_s:.0f} s: "
                                       f"{type(exc).__name__}: {exc}", field="clients") from None
        return actors

    def check_schemas(self, actors: dict) -> dict[str, dict]:
        """Every client's dataset has the same columns and types, target included."""
        described, missing = gather({h: call(a, "describe") for h, a in actors.items()},
                                    time.monotonic() + self.spec.setup_timeout_s)
        if missing:
            raise NotEnoughClients(f"clients did not describe their data: {missing}", field="clients")
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
        return described

    def prepare(self, actors: dict, described: dict) -> tuple[list, list[str], np.ndarray, np.ndarray, int]:
        labels = sorted({label for info in described.values() for label in info["labels"]})
        sums, missing = gather({h: call(a, "prepare", labels) for h, a in actors.items()},
                               time.monotonic() + self.spec.setup_timeout_s)
        if missing:
            raise NotEnoughClients(f"clients failed to prepare: {missing}", field="clients")
        mean, std = combine_feature_sums(list(sums.values()))
        sizes, missing = gather({h: call(a, "setup", mean, std, len(labels)) for h, a in actors.items()},
                                time.monotonic() + self.spec.setup_timeout_s)
        if missing:
            raise NotEnoughClients(f"clients failed to set up: {missing}", field="clients")
        features = [c for c, _ in described[self.spec.clients[0]]["columns"] if c != self.training.target]
        return labels, features, mean, std, next(iter(sizes.values()))

    def initial_weights(self, n_features: int, n_classes: int):
        model = build_model(self.training.model, n_features, n_classes, seed=self.training.seed,
                            **self.training.model_options)
        if self.spec.initial_weights:  # checked by the flow: a model file of a readable execution
            from blocks.store import parts_in_store

            data = self.store.read_bytes(*parts_in_store(self.spec.initial_weights, self.store.url))
            model.set_weights(npz_to_weights(data))
        return model

    def sample(self, server_round: int) -> list[str]:
        clients = self.spec.clients
        k = max(self.spec.min_clients, int(np.ceil(self.spec.fraction_fit * len(clients))))
        if k >= len(clients):
            return list(clients)
        return sorted(self.rng.choice(clients, size=k, replace=False).tolist())

    # -- the story ----------------------------------------------------------------------------
    def run(self) -> dict:
        spec, training = self.spec, self.training
        control = ControlWatcher(spec.execution_id, spec.flow_run_id).start()
        reporter = RoundReporter(
            store=self.store, execution_id=spec.execution_id, host=self.host, tool=spec.tool, rounds=spec.rounds,
            tracking_uri=self.tracking_uri, experiment=spec.experiment,
            tags={"fedpe.execution_id": spec.execution_id, "fedpe.flow_run_id": spec.flow_run_id,
                  "fedpe.owner": spec.owner, "mlflow.user": spec.owner,
                  "fedpe.server": self.host, "fedpe.clients": ",".join(spec.clients), "fedpe.seed": str(training.seed),
                  **{f"version.{k}": v for k, v in versions().items()}},
            params=spec.parameters, checkpoint_every=spec.checkpoint_every, log=self.log,
        )
        status, final, weights, model, error = "failed", {}, None, None, None
        history: list[dict] = []
        epsilon = None
        stopped_because = None
        try:
            with self.meter.measure():
                actors = self.connect()
                described = self.check_schemas(actors)
                reporter.tags({f"data.fingerprint.{h}": str(d["fingerprint"]) for h, d in described.items()})
                labels, features, mean, std, _ = self.prepare(actors, described)
                self.log.info("%d clients ready (%s): %d training records, %d features, %d classes; scaling from "
                              "their sums", len(actors), ", ".join(actors),
                              sum(d["rows"] for d in described.values()), len(features), len(labels))
                model = self.initial_weights(len(features), len(labels))
                weights = model.get_weights()
                strategy = build_strategy(spec.strategy, learning_rate=training.learning_rate,
                                          num_clients=len(spec.clients))
                strategy.initialize(weights)
                dp = training.dp
                clip_norm = dp.clipping_norm if dp else None
                accountant = None
                if dp:
                    expected = len(self.sample(0))
                    accountant = PrivacyAccountant(dp.noise_multiplier, expected / len(spec.clients), dp.delta)
                    noise_multiplier = dp.update_noise_multiplier(expected) if dp.adaptive else dp.noise_multiplier
                    max_rounds = accountant.rounds_within(dp.target_epsilon) if dp.target_epsilon else None

            pending: dict | None = None  # the last round's entry, waiting for its validation metrics
            for server_round in range(1, spec.rounds + 1):
                if control.paused:
                    # A round's metrics come with the next round's answers; a pause must not hold them.
                    if pending is not None:
                        evals, _ = gather({h: call(a, "evaluate", pending["_weights"]) for h, a in actors.items()},
                                          time.monotonic() + spec.round_timeout_s)
                        self._record_round(pending, evals, history, reporter)
                        pending = None
                    reporter.paused(True)
                    control.wait_while_paused()
                    reporter.paused(False)
                if control.should_stop:
                    stopped_because = "cancelled" if control.cancelled else "stopped"
                    break
                if dp and dp.target_epsilon and server_round > max_rounds:
                    stopped_because = f"privacy budget spent (epsilon {epsilon:.3f} of {dp.target_epsilon})"
                    break
                started = time.perf_counter()
                with self.meter.measure():
                    selected = self.sample(server_round)
                    config = strategy.client_config(server_round)
                    if dp:
                        config["clipping_norm"] = clip_norm
                    calls = {h: call(actors[h], "fit", weights, server_round, config) for h in selected}
                    calls.update({h: call(actors[h], "evaluate", weights) for h in spec.clients if h not in selected})
                    answers, missing = gather(calls, time.monotonic() + spec.round_timeout_s)
                    fits = {h: a for h, a in answers.items() if h in selected}
                    if len(fits) < spec.min_clients:
                        raise NotEnoughClients(
                            f"round {server_round}: {len(fits)} of {len(selected)} clients answered, fewer than "
                            f"min_clients={spec.min_clients}; missing: {', '.join(f'{h} ({r})' for h, r in missing.items())}",
                            field="min_clients", details={"missing": missing, "round": server_round})
                    evals = {h: (a["eval"] if h in fits else a) for h, a in answers.items()}
                    if pending is not None:
                        self._record_round(pending, evals, history, reporter)
                    results = [FitResult(host=h, weights=a["weights"], num_examples=a["num_examples"],
                                         metrics=a["metrics"], control_delta=a["control_delta"]) for h, a in fits.items()]
                    weights = strategy.aggregate_fit(server_round, weights, results)
                    if dp:
                        weights = add_gaussian_noise(weights, noise_multiplier, clip_norm, len(selected), self.rng)
                        if dp.adaptive:
                            clip_norm = adaptive_clip_norm(
                                clip_norm, [bool(a["clipped"]) for a in fits.values()], dp.target_quantile,
                                dp.clip_learning_rate, dp.count_stddev(len(selected)), len(selected), self.rng)
                        epsilon = accountant.epsilon(server_round)
                train_total = sum(a["train_examples"] for a in fits.values())
                pending = {
                    "round": server_round,
                    "clients": sorted(fits), "dropped": sorted(h for h in missing if h in selected),
                    "train_loss": sum(a["metrics"]["loss"] * a["train_examples"] for a in fits.values()) / max(train_total, 1),
                    "round_ms": round((time.perf_counter() - started) * 1000, 3),
                    "ended_at": time.time(),
                    "epsilon": epsilon, "clipping_norm": clip_norm,
                    "_weights": weights,
                }
            with self.meter.measure():
                finals, missing = gather({h: call(a, "final", weights) for h, a in actors.items()},
                                         time.monotonic() + max(spec.round_timeout_s, 30))
                if pending is not None:
                    self._record_round(pending, {h: f["validation"] for h, f in finals.items()}, history, reporter)
                final = {"test": weighted({h: f["test"] for h, f in finals.items()}),
                         "validation": weighted({h: f["validation"] for h, f in finals.items()}),
                         "per_client": {h: f["test"] for h, f in finals.items()}, "missing": missing}
                model.set_weights(weights)
            status = "cancelled" if stopped_because == "cancelled" else "completed"
        except FedpeError as exc:
            error = exc
        except Exception as exc:
            error = exc
        finally:
            control.close()
            self._release_clients()
        from tasks.tracking import FederatedModel

        if status == "completed":
            self.log.info("final model: test accuracy %.4f, loss %.4f on %d held-out records%s",
                          final["test"]["accuracy"], final["test"]["loss"], final["test"]["num_examples"],
                          f" (stopped: {stopped_because})" if stopped_because else "")
        elif error is not None:
            self.log.error("training failed: %s", getattr(error, "message", None) or error)
        packaged = FederatedModel(model, mean, std, features, labels) if status == "completed" else None
        reporter.finish(status, final, weights, packaged)
        self._write_report(len(history))
        if error is not None:
            raise error
        return {
            "status": status, "stopped_because": stopped_because, "history": history, "final": final,
            "mlflow_run_id": reporter.mlflow_run_id, "model_uri": reporter.model_uri, "epsilon": epsilon,
            "outputs": self.store.url_of(spec.execution_id),
        }

    def _record_round(self, entry: dict, evals: dict, history: list[dict], reporter: RoundReporter) -> None:
        """A finished round, with its aggregate's validation metrics, into the history and the reporter."""
        self._complete(entry, evals)
        reporter.round_done(entry, entry.pop("_weights"))
        history.append(entry)

    @staticmethod
    def _complete(entry: dict, evals: dict) -> None:
        """Fill a round's entry with its aggregate's validation metrics, reported a round later."""
        summary = weighted(evals)
        entry["loss"], entry["accuracy"] = summary["loss"], summary["accuracy"]
        entry["per_client"] = {h: {"loss": e["loss"], "accuracy": e["accuracy"]} for h, e in evals.items()}

    def _release_clients(self) -> None:
        try:
            from distributed import Event, get_client

            Event(done_event(self.spec.execution_id), client=get_client()).set()
        except Exception:
            pass

    def _write_report(self, rounds: int) -> None:
        report = self.meter.report(host=self.host, task=TASK_ID, rounds=rounds)
        self.store.write_bytes(json.dumps(report, indent=2).encode(), self.spec.execution_id, REPORTS_DIR,
                               report_file(self.host, TASK_ID))


@task(name=TASK_ID, task_run_name="flcore-server[{host}]", persist_result=False, cache_policy=NO_CACHE)
def flcore_server_role(host: str, spec: ServerSpec, training: TrainingSpec, store: StoreSpec,
                       tracking_uri: str | None) -> dict:
    """Run the whole training on the server host (see FederatedServer.run)."""
    from distributed import secede

    secede()  # long-lived: must not hold one of the worker's threads
    return FederatedServer(host, spec, training, store, tracking_uri or os.environ.get("MLFLOW_TRACKING_URI")).run()
