"""The flcore client role: one long-lived Prefect task per client host, for the whole execution.

The task starts a Dask Actor on its own worker that holds the host's state (data, model,
control variates) and hands the actor to the server role through a Dask Variable. The server
then calls the actor every round, so weights go worker to worker and no Prefect task run is
created per round. Only weights, sample counts and metrics ever leave the host.
"""

from __future__ import annotations

import csv
import io
import json
import time

import numpy as np
from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from blocks.store import StoreSpec
from fedpe.errors import InvalidArgument
from tasks.data.catalogue import fingerprint_file, load_dataset
from tasks.data.layout import find_split_file
from tasks.hosts import current_host
from tasks.models.registry import build_model
from tasks.privacy import clip_update
from tasks.roles.specs import TrainingSpec
from tasks.roles.usage import UsageMeter
from tasks.strategies.scaffold import scaffold_correction, scaffold_update_control
from tasks.training import evaluate, feature_sums, local_train, standardize

TASK_ID = "flcore-client"


def actor_variable(execution_id: str, host: str) -> str:
    return f"fedpe-{execution_id}-actor-{host}"


def done_event(execution_id: str) -> str:
    return f"fedpe-{execution_id}-done"


class ClientTrainer:
    """A host's training state for one execution, living in a Dask Actor on that host."""

    def __init__(self, execution_id: str, host: str, spec: TrainingSpec):
        here = current_host()
        if here.name != host:
            raise RuntimeError(f"client actor for {host} started on {here.name}")
        self.execution_id = execution_id
        self.host = host
        self.spec = spec
        self.data_dir = here.data_dir
        self.meter = UsageMeter()
        self.last_active = time.monotonic()
        self.history: list[dict] = []
        self.model = None
        self.c_local = None
        self._rng = np.random.default_rng(spec.seed)
        with self.meter.measure():
            frame = load_dataset(self.data_dir, spec.dataset, "train")
            if spec.target not in frame.columns:
                raise InvalidArgument(f"target: column {spec.target!r} is not in {spec.dataset} on host {host}",
                                      field="target")
            self.columns = [(c, str(frame[c].dtype)) for c in frame.columns]
            self.features = [c for c in frame.columns if c != spec.target]
            self._frame = frame
            train_file = find_split_file(self.data_dir, spec.dataset, "train")
            self.fingerprint = fingerprint_file(train_file) if train_file else None

    # -- set-up, before round 1 -------------------------------------------------------------
    def describe(self) -> dict:
        """Schema, size, label values and data fingerprint: what the server checks first."""
        self.last_active = time.monotonic()
        labels = sorted(self._frame[self.spec.target].dropna().unique().tolist())
        return {"host": self.host, "columns": self.columns, "rows": len(self._frame), "labels": labels,
                "fingerprint": self.fingerprint}

    def prepare(self, labels: list) -> dict:
        """Split train/validation by seed and return feature sums for federated scaling."""
        with self.meter.measure():
            non_numeric = [c for c in self.features if not np.issubdtype(self._frame[c].dtype, np.number)]
            if non_numeric:
                raise InvalidArgument(f"dataset: column {non_numeric[0]!r} on host {self.host} is not numeric",
                                      field="dataset")
            index = {label: i for i, label in enumerate(labels)}
            X = self._frame[self.features].to_numpy(dtype=np.float64)
            y = self._frame[self.spec.target].map(index).to_numpy()
            order = np.random.default_rng(self.spec.seed).permutation(len(X))
            n_val = int(round(len(X) * self.spec.validation_fraction))
            n_val = min(max(n_val, 1), len(X) - 1) if len(X) > 1 else 0
            val, train = order[:n_val], order[n_val:]
            self._labels = index
            self.X_train, self.y_train = X[train], y[train].astype(int)
            self.X_val, self.y_val = X[val], y[val].astype(int)
            del self._frame
            sums = feature_sums(self.X_train)
        self.last_active = time.monotonic()
        return sums

    def setup(self, mean: np.ndarray, std: np.ndarray, n_classes: int) -> int:
        """Standardise with the federation's mean/std and build the model; returns its size."""
        with self.meter.measure():
            self.mean, self.std = mean, std
            self.X_train = standardize(self.X_train, mean, std)
            self.X_val = standardize(self.X_val, mean, std)
            self.model = build_model(self.spec.model, self.X_train.shape[1], n_classes, seed=self.spec.seed,
                                     **self.spec.model_options)
        self.last_active = time.monotonic()
        return self.model.num_parameters()

    # -- every round ------------------------------------------------------------------------
    def _eval(self, weights, X, y) -> dict:
        self.model.set_weights(weights)
        return evaluate(self.model, X, y)

    def evaluate(self, weights: list[np.ndarray]) -> dict:
        """The global model's metrics on this host's validation split."""
        with self.meter.measure():
            result = self._eval(weights, self.X_val, self.y_val)
        self.last_active = time.monotonic()
        return result

    def fit(self, weights: list[np.ndarray], server_round: int, config: dict) -> dict:
        """Evaluate the incoming global model, then train locally from it.

        Evaluating here saves the server a second call per round: the metrics are those of
        the previous round's aggregate.
        """
        start = time.perf_counter()
        with self.meter.measure():
            incoming = self._eval(weights, self.X_val, self.y_val)
            mu = float(config.get("proximal_mu", 0.0))
            control = config.get("scaffold_control")
            if control is not None and self.c_local is None:
                self.c_local = [np.zeros_like(w) for w in weights]
            correction = scaffold_correction(control, self.c_local) if control is not None else None
            trained = local_train(
                self.model, self.X_train, self.y_train, epochs=self.spec.local_epochs,
                batch_size=self.spec.batch_size, learning_rate=self.spec.learning_rate, rng=self._rng,
                proximal_mu=mu, global_weights=weights if mu > 0 else None, correction=correction,
            )
            new = self.model.get_weights()
            control_delta = None
            if control is not None:
                self.c_local, control_delta = scaffold_update_control(
                    self.c_local, control, weights, new, trained.steps, self.spec.learning_rate)
            clipped = None
            num_examples = trained.num_examples
            if "clipping_norm" in config:
                update, clipped = clip_update([n - w for n, w in zip(new, weights)], float(config["clipping_norm"]))
                new = [w + u for w, u in zip(weights, update)]
                num_examples = 1  # DP noise is calibrated to an unweighted mean
        seconds = time.perf_counter() - start
        self.history.append({"round": server_round, "loss_before": trained.loss_before, "loss_after": trained.loss_after,
                             "steps": trained.steps, "val_loss_incoming": incoming["loss"],
                             "val_accuracy_incoming": incoming["accuracy"], "seconds": round(seconds, 4)})
        self.last_active = time.monotonic()
        return {"weights": new, "num_examples": num_examples, "train_examples": trained.num_examples,
                "metrics": {"loss_before": trained.loss_before, "loss": trained.loss_after},
                "control_delta": control_delta, "clipped": clipped, "eval": incoming}

    # -- the end ------------------------------------------------------------------------------
    def final(self, weights: list[np.ndarray]) -> dict:
        """The final model on the validation split and on the held-out test file (read only now)."""
        with self.meter.measure():
            validation = self._eval(weights, self.X_val, self.y_val)
            frame = load_dataset(self.data_dir, self.spec.dataset, "test")
            X = standardize(frame[self.features].to_numpy(dtype=np.float64), self.mean, self.std)
            known = frame[self.spec.target].isin(self._labels.keys())
            y = frame[self.spec.target][known].map(self._labels).to_numpy().astype(int)
            test = self._eval(weights, X[known.to_numpy()], y) if len(y) else {"loss": float("nan"), "accuracy": float("nan"), "num_examples": 0}
        self.last_active = time.monotonic()
        return {"validation": validation, "test": test}


def _history_csv(history: list[dict]) -> bytes:
    out = io.StringIO()
    if history:
        writer = csv.DictWriter(out, fieldnames=list(history[0]))
        writer.writeheader()
        writer.writerows(history)
    return out.getvalue().encode()


@task(name=TASK_ID, task_run_name="flcore-client[{host}]", persist_result=False, cache_policy=NO_CACHE)
def flcore_client_role(host: str, execution_id: str, training: TrainingSpec, store: StoreSpec,
                       idle_timeout_s: float = 300.0) -> dict:
    """Hold this host's actor until the server says done (or it idles too long); write local outputs."""
    from distributed import Event, Variable, get_client, get_worker, secede

    from tasks.conventions import REPORTS_DIR, report_file

    secede()  # long-lived: give the worker its thread back
    meter = UsageMeter()
    client = get_client()
    with meter.measure():
        future = client.submit(ClientTrainer, execution_id, host, training, actor=True, workers=[host],
                               allow_other_workers=False, pure=False, key=f"flcore-actor-{execution_id}-{host}")
        future.result(timeout=120)
        variable = Variable(actor_variable(execution_id, host), client=client)
        variable.set(future)
    trainer: ClientTrainer = get_worker().state.actors[future.key]
    log = get_run_logger()
    log.info("%s holds its %s training data for the server (%d features)", host, training.dataset,
             len(trainer.features))
    done = Event(done_event(execution_id), client=client)
    reason = "server finished"
    while not done.wait(timeout=1.0):
        if time.monotonic() - trainer.last_active > idle_timeout_s:
            reason = f"idle for {idle_timeout_s:.0f} s"
            break
    with meter.measure():
        store.write_bytes(_history_csv(trainer.history), execution_id, host, "local_metrics.csv")
        report = meter.report(host=host, task=TASK_ID, rounds_trained=len(trainer.history), ended_because=reason)
        report["cpu_seconds"] = round(report["cpu_seconds"] + trainer.meter.cpu_seconds, 4)
        report["rss_peak_bytes"] = max(report["rss_peak_bytes"], trainer.meter.rss_peak_bytes)
        store.write_bytes(json.dumps(report, indent=2).encode(), execution_id, REPORTS_DIR, report_file(host, TASK_ID))
    variable.delete()
    future.release()
    log.info("%s trained %d rounds and left: %s", host, len(trainer.history), reason)
    return {"host": host, "rounds_trained": len(trainer.history), "ended_because": reason}
