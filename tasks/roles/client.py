"""The flcore client role: a host's training state for one execution, on that host.

The role starts when its Dask task reaches the host (tasks/roles/runtime.py), reads its data
and then answers the server role's calls (`describe`, `prepare`, `setup`, `fit`, `evaluate`,
`final`, `leave`), which only the host named as the execution's server may make. Only weights,
sample counts and metrics ever leave the host, each answer recorded in the host's audit log;
its local metrics go home as a file when it leaves.
"""

from __future__ import annotations

import csv
import io
import threading
import time

import numpy as np

from fedpe.errors import InvalidArgument
from tasks.data.catalogue import fingerprint_file, load_dataset
from tasks.data.layout import find_split_file
from tasks.models.registry import build_model
from tasks.privacy import clip_update
from tasks.roles.context import RoleContext
from tasks.roles.specs import TrainingSpec
from tasks.roles.usage import UsageMeter
from tasks.strategies.scaffold import scaffold_correction, scaffold_update_control
from tasks.training import evaluate, feature_sums, local_train, standardize

TASK_ID = "flcore-client"


class ClientTrainer:
    """A host's training state for one execution: data, model, control variates."""

    TASK_ID = TASK_ID
    PEER_METHODS = frozenset({"describe", "prepare", "setup", "fit", "evaluate", "final", "leave"})
    COORDINATOR_METHODS = frozenset({"leave"})
    AUDIT_CALLS = True

    def __init__(self, context: RoleContext):
        spec = TrainingSpec.model_validate(context.spec.params["training"])
        host = context.host
        self.context = context
        self.execution_id = context.spec.execution_id
        self.host = host
        self.spec = spec
        self.data_dir = context.data_dir
        self.idle_timeout_s = context.spec.idle_timeout_s
        self._leave = threading.Event()
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
        context.record("read", dataset=spec.dataset, split="train", rows=len(frame), columns=list(map(str, frame.columns)),
                       fingerprint=self.fingerprint)

    # -- set-up, before round 1 -------------------------------------------------------------
    def describe(self, _: object = None) -> dict:
        """Schema, size, label values and data fingerprint: what the server checks first."""
        self.last_active = time.monotonic()
        labels = sorted(self._frame[self.spec.target].dropna().unique().tolist())
        return {"host": self.host, "columns": self.columns, "rows": len(self._frame), "labels": labels,
                "fingerprint": self.fingerprint}

    def prepare(self, value: dict) -> dict:
        """Split train/validation by seed and return feature sums for federated scaling."""
        labels = value["labels"]
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

    def setup(self, value: dict) -> int:
        """Standardise with the federation's mean/std and build the model; returns its size."""
        mean, std, n_classes = np.asarray(value["mean"]), np.asarray(value["std"]), int(value["n_classes"])
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

    def evaluate(self, value: dict) -> dict:
        """The global model's metrics on this host's validation split."""
        weights = value["weights"]
        with self.meter.measure():
            result = self._eval(weights, self.X_val, self.y_val)
        self.last_active = time.monotonic()
        return result

    def fit(self, value: dict) -> dict:
        """Evaluate the incoming global model, then train locally from it.

        Evaluating here saves the server a second call per round: the metrics are those of
        the previous round's aggregate.
        """
        weights, server_round, config = value["weights"], int(value["round"]), value["config"]
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
    def final(self, value: dict) -> dict:
        """The final model on the validation split and on the held-out test file (read only now)."""
        weights = value["weights"]
        with self.meter.measure():
            validation = self._eval(weights, self.X_val, self.y_val)
            frame = load_dataset(self.data_dir, self.spec.dataset, "test")
            self.context.record("read", dataset=self.spec.dataset, split="test", rows=len(frame))
            X = standardize(frame[self.features].to_numpy(dtype=np.float64), self.mean, self.std)
            known = frame[self.spec.target].isin(self._labels.keys())
            y = frame[self.spec.target][known].map(self._labels).to_numpy().astype(int)
            test = self._eval(weights, X[known.to_numpy()], y) if len(y) else {"loss": float("nan"), "accuracy": float("nan"), "num_examples": 0}
        self.last_active = time.monotonic()
        return {"validation": validation, "test": test}


    def leave(self, _: object = None) -> bool:
        """The server is done with this host: the role ends."""
        self._leave.set()
        return True

    # -- the role's life ------------------------------------------------------------------------
    def run(self) -> dict:
        """Serve the server's calls until it says leave, it idles too long, or the coordinator is gone."""
        self.context.log.info("%s holds its %s training data for the server (%d features)", self.host,
                              self.spec.dataset, len(self.features))
        reason = "server finished"
        while not self._leave.wait(timeout=0.5):
            if time.monotonic() - self.last_active > self.idle_timeout_s:
                reason = f"idle for {self.idle_timeout_s:.0f} s"
                break
            if self.context.control.coordinator_lost or self.context.control.cancelled:
                reason = "the execution ended"
                break
        self.context.release_file("local_metrics.csv", _history_csv(self.history))
        self.context.log.info("%s trained %d rounds and left: %s", self.host, len(self.history), reason)
        usage = self.meter.report(host=self.host, task=TASK_ID, rounds_trained=len(self.history), ended_because=reason)
        return {"host": self.host, "rounds_trained": len(self.history), "ended_because": reason, "usage": usage}


def _history_csv(history: list[dict]) -> bytes:
    out = io.StringIO()
    if history:
        writer = csv.DictWriter(out, fieldnames=list(history[0]))
        writer.writeheader()
        writer.writerows(history)
    return out.getvalue().encode()
