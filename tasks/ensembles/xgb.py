"""Federated XGBoost: bagging (FedXgbBagging) and cyclic (FedXgbCyclic) training.

Both follow Flower's XGBoost strategies (`flwr/server/strategy/fedxgb_bagging.py` and
`fedxgb_cyclic.py`; Beutel et al. 2020, arXiv:2007.14390) over XGBoost (Chen & Guestrin
2016, "XGBoost: A Scalable Tree Boosting System", arXiv:1603.02754):

- **bagging**: every selected client loads the global booster, boosts `local_rounds` more
  rounds on its records and sends only those new trees; the server appends every client's
  new trees to the global booster (so after R rounds with M clients it holds about
  M * R * local_rounds tree rounds). Flower's `aggregate` handles one tree per round;
  `append_trees` here appends whole boosting rounds, so multiclass (one tree per class per
  round) works too.
- **cyclic**: one client a round, round robin; it boosts on top of the global booster and
  sends the whole booster back, which becomes the global one.

The booster travels as its JSON bytes (`Booster.save_raw("json")`), never a pickle.
`base_score` is fixed at 0.5 so every client boosts from the same intercept (XGBoost >= 2
would otherwise estimate one from each client's labels). Missing values are native: NaN in
X goes down each split's learned default branch.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, ClassVar, Literal

import numpy as np

from tasks.ensembles.base import EnsembleAggregator, EnsembleFitResult, check_results
from tasks.models.base import check_X, check_dimensions

Training = Literal["bagging", "cyclic"]


def _xgb() -> Any:
    import xgboost  # imported when used: a registry listing must not pay for it

    return xgboost


def booster_params(n_classes: int, *, max_depth: int = 4, learning_rate: float = 0.1,
                   subsample: float = 1.0, seed: int = 0, nthread: int = 1) -> dict[str, Any]:
    """The training parameters every client uses; one objective for 2 classes, softprob above."""
    params: dict[str, Any] = {
        "max_depth": int(max_depth), "eta": float(learning_rate), "subsample": float(subsample),
        "base_score": 0.5, "seed": int(seed), "nthread": int(nthread), "tree_method": "hist",
    }
    if n_classes == 2:
        params.update(objective="binary:logistic", eval_metric="logloss")
    else:
        params.update(objective="multi:softprob", num_class=int(n_classes), eval_metric="mlogloss")
    return params


def booster_to_bytes(booster: Any) -> bytes:
    """The booster as JSON bytes: what travels between hosts."""
    return bytes(booster.save_raw("json"))


def booster_from_bytes(payload: bytes, params: dict[str, Any] | None = None) -> Any:
    """Load a booster from its JSON bytes (`params` sets e.g. nthread for later training)."""
    xgb = _xgb()
    booster = xgb.Booster(params=params or {})
    booster.load_model(bytearray(payload))
    return booster


def num_rounds(payload: bytes | None) -> int:
    """Boosting rounds in a booster's JSON (0 for none)."""
    if not payload:
        return 0
    model = json.loads(payload)["learner"]["gradient_booster"]["model"]
    return len(model["iteration_indptr"]) - 1


def boost(global_payload: bytes | None, X: np.ndarray, y: np.ndarray, *, params: dict[str, Any],
          local_rounds: int) -> Any:
    """Boost `local_rounds` rounds on (X, y) on top of the global booster (or from scratch)."""
    xgb = _xgb()
    if int(local_rounds) != local_rounds or local_rounds < 1:
        raise ValueError(f"local_rounds must be an integer >= 1, got {local_rounds!r}")
    dtrain = xgb.DMatrix(np.asarray(X, dtype=np.float64), label=np.asarray(y), missing=np.nan)
    start = booster_from_bytes(global_payload, params) if global_payload else None
    return xgb.train(params, dtrain, num_boost_round=int(local_rounds), xgb_model=start)


def new_trees(booster: Any, local_rounds: int) -> bytes:
    """Only the last `local_rounds` boosting rounds of `booster`, as JSON bytes (bagging)."""
    end = booster.num_boosted_rounds()
    return booster_to_bytes(booster[end - int(local_rounds):end])


def _model(doc: dict[str, Any]) -> dict[str, Any]:
    return doc["learner"]["gradient_booster"]["model"]


def append_trees(global_payload: bytes | None, client_payload: bytes) -> bytes:
    """Bagging aggregation: the global booster with every boosting round of `client_payload` appended.

    Tree ids are renumbered and `tree_info` (a tree's class) and `iteration_indptr` (where
    each round's trees start) are extended, so multiclass boosters stay valid. The two
    boosters must agree on objective, classes and features.
    """
    if not global_payload:
        return bytes(client_payload)
    prev, curr = json.loads(global_payload), json.loads(client_payload)
    for key in ("num_class", "num_feature"):
        a, b = prev["learner"]["learner_model_param"][key], curr["learner"]["learner_model_param"][key]
        if a != b:
            raise ValueError(f"cannot append trees with {key}={b} to a booster with {key}={a}")
    if prev["learner"]["objective"]["name"] != curr["learner"]["objective"]["name"]:
        raise ValueError("cannot append trees of a different objective")
    pm, cm = _model(prev), _model(curr)
    indptr = cm["iteration_indptr"]
    for r in range(len(indptr) - 1):
        for t in range(indptr[r], indptr[r + 1]):
            tree = dict(cm["trees"][t])
            tree["id"] = len(pm["trees"])
            pm["trees"].append(tree)
            pm["tree_info"].append(cm["tree_info"][t])
        pm["iteration_indptr"].append(pm["iteration_indptr"][-1] + indptr[r + 1] - indptr[r])
    pm["gbtree_model_param"]["num_trees"] = str(len(pm["trees"]))
    return json.dumps(prev).encode()


def predict_proba_bytes(payload: bytes | None, X: np.ndarray, n_classes: int) -> np.ndarray:
    """Class probabilities of a booster given as bytes; uniform before any tree exists."""
    X = np.asarray(X, dtype=np.float64)
    if not payload:
        return np.full((X.shape[0], n_classes), 1.0 / n_classes)
    xgb = _xgb()
    booster = booster_from_bytes(payload, {"nthread": 1})
    p = booster.predict(xgb.DMatrix(X, missing=np.nan))
    if n_classes == 2:
        p = np.column_stack([1.0 - p, p])
    return np.asarray(p, dtype=np.float64).reshape(X.shape[0], n_classes)


class XGBoostBagging(EnsembleAggregator):
    """Server half of bagging: append every client's new trees to the global booster."""

    name: ClassVar[str] = "xgboost-bagging"

    def aggregate(self, server_round: int, global_payload: bytes | None,
                  results: list[EnsembleFitResult]) -> bytes:
        check_results(results)
        merged = global_payload
        for result in sorted(results, key=lambda r: r.host):  # host order: the same merge every run
            if not isinstance(result.payload, (bytes, bytearray)):
                raise ValueError(f"client {result.host!r} sent {type(result.payload).__name__}, not booster bytes")
            merged = append_trees(merged, bytes(result.payload))
        assert merged is not None
        return bytes(merged)


class XGBoostCyclic(EnsembleAggregator):
    """Server half of cyclic training: one client a round, its whole booster becomes global."""

    name: ClassVar[str] = "xgboost-cyclic"

    def select_clients(self, server_round: int, hosts: Sequence[str]) -> list[str]:
        """Round robin over the hosts in the given order: round 1 takes the first."""
        if not hosts:
            return []
        return [list(hosts)[(int(server_round) - 1) % len(hosts)]]

    def aggregate(self, server_round: int, global_payload: bytes | None,
                  results: list[EnsembleFitResult]) -> bytes:
        check_results(results)
        if len(results) != 1:
            raise ValueError(f"cyclic training takes one client a round, got {len(results)}")
        payload = results[0].payload
        if not isinstance(payload, (bytes, bytearray)):
            raise ValueError(f"client {results[0].host!r} sent {type(payload).__name__}, not booster bytes")
        return bytes(payload)


class XGBoost:
    """Client half: boosts `local_rounds` rounds on the global booster each round."""

    name: ClassVar[str] = "xgboost"

    def __init__(
        self,
        n_features: int,
        n_classes: int,
        *,
        training: Training = "bagging",
        local_rounds: int = 3,
        max_depth: int = 4,
        learning_rate: float = 0.1,
        subsample: float = 1.0,
        seed: int = 0,
    ) -> None:
        check_dimensions(n_features, n_classes)
        if training not in ("bagging", "cyclic"):
            raise ValueError(f"training must be 'bagging' or 'cyclic', got {training!r}")
        if int(local_rounds) != local_rounds or local_rounds < 1:
            raise ValueError(f"local_rounds must be an integer >= 1, got {local_rounds!r}")
        if not 0 < learning_rate <= 1:
            raise ValueError(f"learning_rate must be in (0, 1], got {learning_rate!r}")
        self.n_features, self.n_classes = int(n_features), int(n_classes)
        self.training: Training = training
        self.local_rounds = int(local_rounds)
        self.seed = seed
        self.params = booster_params(self.n_classes, max_depth=max_depth, learning_rate=learning_rate,
                                     subsample=subsample, seed=seed)
        self._payload: bytes | None = None

    def fit_round(self, global_payload: bytes | None, X: np.ndarray, y: np.ndarray, *,
                  server_round: int, rng: np.random.Generator | None = None, validation=None) -> bytes:
        """Bagging sends the new trees only; cyclic sends the whole booster (`validation` is unused)."""
        X = self._check_X(X)
        booster = boost(global_payload, X, y, params=self.params, local_rounds=self.local_rounds)
        if self.training == "bagging":
            return new_trees(booster, self.local_rounds)
        return booster_to_bytes(booster)

    def set_payload(self, payload: bytes | None) -> None:
        """Adopt a global booster (JSON bytes)."""
        if payload is not None and not isinstance(payload, (bytes, bytearray)):
            raise ValueError(f"a booster travels as bytes, got {type(payload).__name__}")
        self._payload = bytes(payload) if payload else None

    def get_payload(self) -> bytes | None:
        """The global booster's JSON bytes (None before round 1)."""
        return self._payload

    def _check_X(self, X: np.ndarray) -> np.ndarray:
        return check_X(X, self.n_features)

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Probabilities of the held booster."""
        return predict_proba_bytes(self._payload, self._check_X(X), self.n_classes)

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Most probable class."""
        return self.predict_proba(X).argmax(axis=1)

    def aggregator(self) -> EnsembleAggregator:
        """Bagging or cyclic, as `training` says."""
        return XGBoostBagging() if self.training == "bagging" else XGBoostCyclic()
