"""How a client trains and evaluates, one class per kind of model: the client role's model seam.

The client role (tasks/host/client.py) keeps the data and the protocol; a learner keeps the
model and knows what one round of local work is for it:

- `SgdLearner`: weight models trained with mini-batch SGD (logreg, mlp, linear_svm,
  elastic_net, torch_mlp), with FedProx's proximal term, SCAFFOLD's correction and DP clipping;
- `NewtonLearner`: Cox proportional hazards, Newton steps on the partial likelihood;
- `EnsembleLearner`: forests and boosters, which grow trees instead of moving weights (the
  weighted forest scores its new trees on the host's validation split).

Evaluation releases sufficient statistics only (tasks/metrics.py): confusion counts and score
histograms for classifiers, concordance counts for Cox, so the server pools metrics exactly.
"""

from __future__ import annotations

import zlib
from abc import ABC, abstractmethod
from typing import Any

import numpy as np

from tasks.metrics import concordance_statistics, host_statistics, scores
from tasks.models.kinds import model_kind
from tasks.privacy import clip_update
from tasks.host.specs import TrainingSpec
from tasks.strategies.scaffold import scaffold_correction, scaffold_update_control
from tasks.training import local_train

#: Score histogram bins a round's evaluation releases (the final evaluation uses the default 1000).
ROUND_BINS = 200


def _classification(y: np.ndarray, proba: np.ndarray, n_classes: int, bins: int) -> dict[str, Any]:
    stats = host_statistics(y, proba, n_classes, bins=bins)
    return {"stats": stats, "accuracy": scores(stats)["accuracy"]}


class ClientLearner(ABC):
    """A client's model for one execution: its state travels as `state` (weights or an ensemble)."""

    survival = False

    def __init__(self, training: TrainingSpec, n_features: int, n_classes: int, host: str = ""):
        self.training = training
        self.n_features = n_features
        self.n_classes = n_classes
        # Seeded per host: the same seed everywhere would draw the same shuffles and bootstraps.
        self.rng = np.random.default_rng([training.seed, zlib.crc32(host.encode())])

    @abstractmethod
    def fit(self, state: Any, server_round: int, config: dict, X: np.ndarray, y: np.ndarray) -> dict:
        """One round of local work from the global `state`: the update and what the server needs."""

    @abstractmethod
    def evaluate(self, state: Any, X: np.ndarray, y: np.ndarray, *, bins: int = ROUND_BINS) -> dict:
        """The global `state` on (X, y): its loss (NaN where none) and the pooled metrics' statistics."""

    def size(self) -> int:
        return 0


class SgdLearner(ClientLearner):
    """Weight models trained with mini-batch SGD."""

    #: Options of the model's config that are the learner's, not the model constructor's.
    LEARNER_OPTIONS: frozenset[str] = frozenset()

    def __init__(self, training: TrainingSpec, n_features: int, n_classes: int, host: str = ""):
        from tasks.models.registry import build_model

        super().__init__(training, n_features, n_classes, host)
        options = {k: v for k, v in training.model_options.items() if k not in self.LEARNER_OPTIONS}
        self.model = build_model(training.model, n_features, n_classes, seed=training.seed, **options)
        self.c_local: list[np.ndarray] | None = None

    def size(self) -> int:
        return self.model.num_parameters()

    def fit(self, state, server_round, config, X, y) -> dict:
        weights = [np.asarray(w) for w in state]
        self.model.set_weights(weights)
        mu = float(config.get("proximal_mu", 0.0))
        control = config.get("scaffold_control")
        if control is not None and self.c_local is None:
            self.c_local = [np.zeros_like(w) for w in weights]
        correction = scaffold_correction(control, self.c_local) if control is not None else None
        trained = self._train(weights, X, y, mu, correction)
        new = self.model.get_weights()
        control_delta = None
        if control is not None:
            self.c_local, control_delta = scaffold_update_control(
                self.c_local, control, weights, new, trained.steps, self.training.learning_rate)
        clipped, num_examples = None, trained.num_examples
        if "clipping_norm" in config:
            update, clipped = clip_update([n - w for n, w in zip(new, weights)], float(config["clipping_norm"]))
            new = [w + u for w, u in zip(weights, update)]
            num_examples = 1  # DP noise is calibrated to an unweighted mean
        return {"update": new, "num_examples": num_examples, "train_examples": trained.num_examples,
                "steps": trained.steps, "metrics": {"loss_before": trained.loss_before, "loss": trained.loss_after},
                "control_delta": control_delta, "clipped": clipped}

    def _train(self, weights, X, y, mu, correction):
        t = self.training
        return local_train(self.model, X, y, epochs=t.local_epochs, batch_size=t.batch_size,
                           learning_rate=t.learning_rate, rng=self.rng, proximal_mu=mu,
                           global_weights=weights if mu > 0 else None, correction=correction)

    def evaluate(self, state, X, y, *, bins: int = ROUND_BINS) -> dict:
        self.model.set_weights([np.asarray(w) for w in state])
        if not len(y):
            return {"num_examples": 0, "loss": float("nan"), "stats": None, "accuracy": float("nan")}
        return {"num_examples": int(len(y)), "loss": float(self.model.loss(X, y)),
                **_classification(y, self.model.predict_proba(X), self.n_classes, bins)}


class NewtonLearner(SgdLearner):
    """Cox proportional hazards: Newton steps on the partial likelihood instead of SGD."""

    survival = True
    LEARNER_OPTIONS = frozenset({"newton_steps", "duration", "event"})

    def __init__(self, training: TrainingSpec, n_features: int, n_classes: int = 1, host: str = ""):
        super().__init__(training, n_features, 1, host)
        self.newton_steps = int(training.model_options.get("newton_steps", 1))

    def _train(self, weights, X, y, mu, correction):
        return self.model.newton_steps(X, y, steps=self.newton_steps, proximal_mu=mu,
                                       global_weights=weights if mu > 0 else None)

    def evaluate(self, state, X, y, *, bins: int = ROUND_BINS) -> dict:
        from tasks.models.cox import split_survival

        self.model.set_weights([np.asarray(w) for w in state])
        if not len(y):
            return {"num_examples": 0, "loss": float("nan"), "stats": None, "concordance": float("nan")}
        time, event = split_survival(y)
        stats = concordance_statistics(time, event, self.model.predict_risk(X))
        return {"num_examples": int(len(y)), "loss": float(self.model.loss(X, y)), "stats": stats,
                "concordance": stats["concordance"]}


class EnsembleLearner(ClientLearner):
    """Forests and boosters: each round grows trees from the global ensemble on local data."""

    def __init__(self, training: TrainingSpec, n_features: int, n_classes: int, host: str = "",
                 validation: tuple[np.ndarray, np.ndarray] | None = None):
        from tasks.ensembles.registry import build_ensemble

        super().__init__(training, n_features, n_classes, host)
        options = {k: v for k, v in training.model_options.items()}
        self.model = build_ensemble(training.model, n_features, n_classes, seed=training.seed, **options)
        # The weighted forest scores its new trees on it; the split stays on the host.
        self.validation = validation

    def fit(self, state, server_round, config, X, y) -> dict:
        payload = self.model.fit_round(state, X, y, server_round=server_round, rng=self.rng,
                                       validation=self.validation)
        return {"update": payload, "num_examples": int(len(y)), "train_examples": int(len(y)), "steps": 0,
                "metrics": {}, "control_delta": None, "clipped": None}

    def evaluate(self, state, X, y, *, bins: int = ROUND_BINS) -> dict:
        if state is not None:
            self.model.set_payload(state)
        if not len(y):
            return {"num_examples": 0, "loss": float("nan"), "stats": None, "accuracy": float("nan")}
        proba = self.model.predict_proba(X)
        eps = 1e-12
        loss = float(-np.mean(np.log(np.clip(proba[np.arange(len(y)), y], eps, 1.0))))
        return {"num_examples": int(len(y)), "loss": loss, **_classification(y, proba, self.n_classes, bins)}


def client_learner(training: TrainingSpec, n_features: int, n_classes: int, host: str,
                   validation: tuple[np.ndarray, np.ndarray] | None = None) -> ClientLearner:
    """The learner for `training.model` on `host` (`validation`: the host's validation split)."""
    if training.model == "cox":
        return NewtonLearner(training, n_features, host=host)
    if model_kind(training.model) == "ensemble":
        return EnsembleLearner(training, n_features, n_classes, host, validation)
    return SgdLearner(training, n_features, n_classes, host)
