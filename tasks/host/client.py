"""The flcore client role: a host's training state for one execution, on that host.

The role starts when its Dask task reaches the host (tasks/host/runtime.py), reads its data
and then answers the server role's calls, which only the host named as the execution's server
may make: `describe` (the selected columns' schema), `prepare` (split, then a profile of the
columns: sums and counts, categories seen at least `min_count` times), `setup` (apply the
federation's preparation plan: imputation, one-hot; feature sums for scaling), `start` (scale,
build the model), then `fit` and `evaluate` each round, `final`, and `leave`. Only weights or
trees, sample counts and metrics' statistics ever leave the host, each answer recorded in the
host's audit log; its local metrics go home as a file when it leaves. How a model trains is
its learner's (tasks/host/learners.py).
"""

from __future__ import annotations

import csv
import io
import threading
import time

import numpy as np

from fedpe.errors import CallRefused, InvalidArgument, PolicyRefused
from tasks.data.catalogue import fingerprint_file, load_dataset
from tasks.data.layout import find_split_file
from tasks.policy import host_dp
from tasks.host.context import RoleContext
from tasks.host.role import Role
from tasks.host.learners import client_learner
from tasks.host.specs import TrainingSpec
from tasks.host.usage import UsageMeter
from tasks.training import feature_sums, standardize

TASK_ID = "flcore-client"


def targets_of(spec: TrainingSpec) -> list[str]:
    """The label column, or a survival model's duration and event columns."""
    if spec.model == "cox":
        return [spec.model_options.get("duration", "duration"), spec.model_options.get("event", "event")]
    return [spec.target]


class ClientTrainer(Role):
    """A host's training state for one execution: data, preparation plan, learner.

    The data holder keeps its own floors, whatever the server host asks: it trains at most the
    rounds it was started for and hands over its final metrics once, and where the training is
    private it clips every update itself, to its own plan's norm at most. Where its policy sets a
    privacy floor it also noises its own updates and accounts its own epsilon (tasks/policy.HostDP).
    """

    TASK_ID = TASK_ID
    PEER_METHODS = frozenset({"describe", "prepare", "quantiles", "setup", "start", "fit", "evaluate", "final",
                              "leave"})
    COORDINATOR_METHODS = frozenset({"leave"})
    # Answers that carry what the host's data gave (audited as "sent"); `leave` only ends the role.
    AUDITED_METHODS = frozenset({"describe", "prepare", "quantiles", "setup", "start", "fit", "evaluate", "final"})

    def __init__(self, context: RoleContext):
        from tasks.features import select_features

        spec = TrainingSpec.model_validate(context.spec.params["training"])
        super().__init__(context)
        self.execution_id = context.spec.execution_id
        self.host = context.host
        self.spec = spec
        self.data_dir = context.data_dir
        self.idle_timeout_s = context.spec.idle_timeout_s
        self._leave = threading.Event()
        self.meter = UsageMeter()
        self.last_active = time.monotonic()
        self.history: list[dict] = []
        self.learner = None
        self.targets = targets_of(spec)
        self.planned_rounds = int(context.spec.params.get("rounds") or 1)
        self.calls = {"fit": 0, "evaluate": 0, "final": 0}
        # The host's own DP (its policy's floor), applied to its updates whatever the server asks
        if context.policy.flcore.private and spec.dp is None:
            raise PolicyRefused(f"host {self.host} trains only with differential privacy, and this training has none")
        self.dp = host_dp(context.policy.flcore, spec.dp.model_dump() if spec.dp else None)
        self.noised = 0
        self._noise = np.random.default_rng()  # fresh entropy: the server knows the training's seed
        with self.meter.measure():
            frame = load_dataset(self.data_dir, spec.dataset, "train")
            try:
                self.features = select_features(list(map(str, frame.columns)), self.targets, spec.features)
            except ValueError as exc:
                field = str(exc).split(":", 1)[0]
                raise InvalidArgument(f"{exc} on host {self.host}", field=field if field in ("features", "target")
                                      else "dataset") from None
            dtypes = dict(zip(map(str, frame.columns), frame.dtypes))  # at once: selecting each of 10,000 columns showed in py-spy
            self.columns = [(c, str(dtypes[c])) for c in [*self.features, *self.targets]]
            self._frame = frame
            train_file = find_split_file(self.data_dir, spec.dataset, "train")
            self.fingerprint = fingerprint_file(train_file) if train_file else None
        context.record("read", dataset=spec.dataset, split="train", rows=len(frame),
                       columns=[c for c, _ in self.columns], fingerprint=self.fingerprint)

    @property
    def survival(self) -> bool:
        return self.spec.model == "cox"

    def _touch(self) -> None:
        self.last_active = time.monotonic()

    # -- set-up, before round 1 -------------------------------------------------------------
    def describe(self, _: object = None) -> dict:
        """Schema of the selected columns, size, label values and data fingerprint: what the server checks first."""
        self._touch()
        labels = None if self.survival else sorted(self._frame[self.spec.target].dropna().unique().tolist())
        return {"host": self.host, "columns": self.columns, "rows": len(self._frame), "labels": labels,
                "features": self.features, "fingerprint": self.fingerprint}

    def prepare(self, value: dict) -> dict:
        """Split train/validation by seed; return the profile of the selected columns for the plan,
        each released cell counting at least the host's own floor (`FedStatsPolicy.floor`)."""
        from tasks.prep import host_profile

        floors = self.context.policy.fed_stats
        with self.meter.measure():
            frame = self._frame
            if not self.survival:
                frame = frame[frame[self.spec.target].notna()]
                self._labels = {label: i for i, label in enumerate(value["labels"])}
            order = np.random.default_rng(self.spec.seed).permutation(len(frame))
            n_val = int(round(len(frame) * self.spec.validation_fraction))
            n_val = min(max(n_val, 1), len(frame) - 1) if len(frame) > 1 else 0
            self._train, self._val = frame.iloc[order[n_val:]], frame.iloc[order[:n_val]]
            del self._frame
            try:
                profile = host_profile(self._train, self.features, min_count=floors.floor(value.get("min_count")))
            except ValueError as exc:
                raise InvalidArgument(f"dataset: {exc} on host {self.host}", field="features") from None
            if value.get("ranges"):  # a median imputation: the first of fed-stats' two passes
                from tasks.stats import local_ranges

                numeric = [c for c in self.features if c in profile["numeric"]]
                profile["ranges"] = local_ranges(self._train[numeric], numeric, floors.floor(value.get("min_count")),
                                                 extremes_k=floors.extremes_k)
        self._touch()
        return profile

    def quantiles(self, value: dict) -> dict:
        """The numeric columns' histograms on the federation's common edges (fed-stats' second pass,
        under the same floors), from which the server reads each column's median."""
        from tasks.stats import local_summary

        floors = self.context.policy.fed_stats
        with self.meter.measure():
            edges = value["edges"]
            summary = local_summary(self._train[[c for c in edges if c in self._train.columns]], edges,
                                    min_count=floors.floor(value.get("min_count")), categorical=[],
                                    extremes_k=floors.extremes_k)
        self._touch()
        return summary

    def _xy(self, frame):
        from tasks.prep import transform

        X = transform(frame, self.plan, missing_indicators=self.missing_indicators, impute=self.impute)
        if self.survival:
            from tasks.models.cox import survival_target

            duration, event = self.targets
            return X, survival_target(frame[duration].to_numpy(dtype=np.float64),
                                      frame[event].to_numpy(dtype=np.float64))
        known = frame[self.spec.target].isin(self._labels.keys()).to_numpy()
        y = frame[self.spec.target][known].map(self._labels).to_numpy().astype(int)
        return X[known], y

    def setup(self, value: dict) -> dict:
        """Apply the federation's preparation plan; feature sums for pooled scaling (weight models)."""
        from tasks.prep import PrepPlan

        with self.meter.measure():
            self.plan = PrepPlan.model_validate(value["plan"])
            self.missing_indicators = bool(value.get("missing_indicators"))
            self.impute = bool(value.get("impute", True))
            self.X_train, self.y_train = self._xy(self._train)
            self.X_val, self.y_val = self._xy(self._val)
            sums = feature_sums(np.nan_to_num(self.X_train)) if self.impute else {"n": int(len(self.X_train))}
        self._touch()
        return sums

    def start(self, value: dict) -> int:
        """Scale with the federation's mean/std (weight models) and build the learner; returns its size."""
        with self.meter.measure():
            self.mean = None if value.get("mean") is None else np.asarray(value["mean"])
            self.std = None if value.get("std") is None else np.asarray(value["std"])
            if self.mean is not None:
                self.X_train = standardize(self.X_train, self.mean, self.std)
                self.X_val = standardize(self.X_val, self.mean, self.std)
            self.learner = client_learner(self.spec, self.X_train.shape[1], int(value["n_classes"]), self.host,
                                          validation=(self.X_val, self.y_val))
        self._touch()
        return self.learner.size()

    # -- every round ------------------------------------------------------------------------
    def _count(self, method: str, limit: int) -> None:
        self.calls[method] += 1
        if self.calls[method] > limit:
            raise CallRefused(f"{self.host} answers {method} at most {limit} time{'s' * (limit != 1)} in this execution "
                              f"({self.planned_rounds} rounds planned)")

    def _clipping(self, config: dict) -> dict:
        """The call's config with this host's own clipping where its training is private."""
        dp = self.spec.dp
        if dp is None:
            return config
        asked = config.get("clipping_norm")
        if asked is None and self.dp is not None:
            raise CallRefused(f"{self.host} trains only with differential privacy: a fit call without its "
                              "clipping norm is refused")
        own = float(self.dp.clipping_norm if self.dp is not None else dp.clipping_norm)
        norm = float(asked) if asked is not None and dp.adaptive else min(float(asked or own), own)
        return {**config, "clipping_norm": norm}

    def _spend(self) -> float:
        """The host's epsilon once it answers one more fit; refused when that passes its max_epsilon."""
        epsilon = self.dp.epsilon(self.noised + 1)
        if self.dp.max_epsilon is not None and epsilon > self.dp.max_epsilon:
            raise CallRefused(f"{self.host} has spent its privacy budget: one more update would reach epsilon "
                              f"{epsilon:.3g}, over its max_epsilon {self.dp.max_epsilon:g}")
        return epsilon

    def _noised(self, answer: dict, server_round: int, norm: float, epsilon: float) -> dict:
        """The clipped update with the host's own Gaussian noise (z x its clipping norm), accounted and audited."""
        from tasks.privacy import add_gaussian_noise

        z = self.dp.noise_multiplier
        update = add_gaussian_noise(answer["update"], z, norm, 1, self._noise)
        self.noised += 1
        self.context.record("privacy", round=server_round, noise_multiplier=z, clipping_norm=norm,
                            epsilon=round(epsilon, 6), delta=self.dp.delta, max_epsilon=self.dp.max_epsilon)
        return {**answer, "update": update, "local_noise": {"noise_multiplier": z, "clipping_norm": norm}}

    def evaluate(self, value: dict) -> dict:
        """The global model's metrics' statistics on this host's validation split."""
        self._count("evaluate", self.planned_rounds + 1)
        with self.meter.measure():
            result = self.learner.evaluate(value["state"], self.X_val, self.y_val)
        self._touch()
        return result

    def fit(self, value: dict) -> dict:
        """Evaluate the incoming global model, then train locally from it.

        Evaluating here saves the server a second call per round: the metrics are those of
        the previous round's aggregate.
        """
        state, server_round, config = value["state"], int(value["round"]), self._clipping(value["config"])
        self._count("fit", self.planned_rounds)
        start = time.perf_counter()
        epsilon = self._spend() if self.dp is not None else None
        with self.meter.measure():
            incoming = self.learner.evaluate(state, self.X_val, self.y_val)
            answer = self.learner.fit(state, server_round, config, self.X_train, self.y_train)
            if self.dp is not None:
                answer = self._noised(answer, server_round, config["clipping_norm"], epsilon)
        seconds = time.perf_counter() - start
        quality = "concordance" if self.survival else "accuracy"
        self.history.append({"round": server_round, "loss_before": answer["metrics"].get("loss_before"),
                             "loss_after": answer["metrics"].get("loss"), "steps": answer["steps"],
                             "val_loss_incoming": incoming["loss"], f"val_{quality}_incoming": incoming[quality],
                             "seconds": round(seconds, 4)})
        self._touch()
        return {**answer, "eval": incoming}

    # -- the end ------------------------------------------------------------------------------
    def final(self, value: dict) -> dict:
        """The final model on the validation split and on the held-out test file (read only now), once."""
        self._count("final", 1)
        with self.meter.measure():
            validation = self.learner.evaluate(value["state"], self.X_val, self.y_val, bins=1000)
            frame = load_dataset(self.data_dir, self.spec.dataset, "test")
            self.context.record("read", dataset=self.spec.dataset, split="test", rows=len(frame))
            if not self.survival:
                frame = frame[frame[self.spec.target].notna()]
            X, y = self._xy(frame)
            if self.mean is not None:
                X = standardize(X, self.mean, self.std)
            test = self.learner.evaluate(value["state"], X, y, bins=1000)
        self._touch()
        return {"validation": validation, "test": test}

    def leave(self, _: object = None) -> bool:
        """The server is done with this host: the role ends."""
        self._leave.set()
        return True

    # -- the role's life ------------------------------------------------------------------------
    def run(self) -> dict:
        """Serve the server's calls until it says leave, it idles too long, or the coordinator is gone."""
        self.context.log.info("%s holds its %s training data for the server (%d columns)", self.host,
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
