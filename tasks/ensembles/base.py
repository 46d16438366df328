"""The ensemble seam: models whose global state is a set of trees, not a weight vector.

Weight strategies (`tasks.strategies`) average arrays of fixed shape; a forest or a booster
cannot be averaged, it is grown and combined. So ensembles have their own two halves, as
Flower keeps `fedxgb_bagging.py` beside `fedavg.py` (Beutel et al. 2020,
arXiv:2007.14390): an `EnsembleModel` on every client that grows new trees from the
global ensemble on its data, and an `EnsembleAggregator` on the server that combines what
the clients sent. What travels (the *payload*) is plain data: NumPy node tables for a
forest, the booster's JSON bytes for XGBoost; never a pickled estimator.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol, runtime_checkable

import numpy as np

Payload = Any
"""What an ensemble sends: list[dict[str, np.ndarray]] for a forest, bytes for a booster."""


@dataclass
class EnsembleFitResult:
    """One client's answer to an ensemble round: its new trees and how many records grew them."""

    host: str
    payload: Payload
    num_examples: int
    metrics: dict[str, float] = field(default_factory=dict)


@runtime_checkable
class EnsembleModel(Protocol):
    """What the client role calls on an ensemble (the counterpart of `tasks.models.base.Model`)."""

    name: ClassVar[str]
    n_features: int
    n_classes: int

    def fit_round(self, global_payload: Payload, X: np.ndarray, y: np.ndarray, *,
                  server_round: int, rng: np.random.Generator,
                  validation: tuple[np.ndarray, np.ndarray] | None = None) -> Payload:
        """Grow this round's trees from the global ensemble on local data; return what travels.

        `validation` is the client's validation split (X, y), for rules that score what they grew."""
        ...

    def set_payload(self, payload: Payload) -> None:
        """Adopt a global ensemble (for evaluation); validate it first."""
        ...

    def get_payload(self) -> Payload:
        """The ensemble this model holds now."""
        ...

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Class probabilities, shape (n, n_classes)."""
        ...

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Predicted class indices in 0..n_classes-1."""
        ...

    def aggregator(self) -> EnsembleAggregator:
        """The server half that matches this model's options."""
        ...


class EnsembleAggregator(ABC):
    """Server half: picks the round's clients and combines their payloads into the global one.

    Stateful where the rule needs it (the forest's seeded rng), so one instance lives for the
    whole training run, like a `Strategy`.
    """

    name: ClassVar[str]

    def select_clients(self, server_round: int, hosts: Sequence[str]) -> list[str]:
        """The hosts that train this round; all of them unless the rule says otherwise."""
        return list(hosts)

    @abstractmethod
    def aggregate(self, server_round: int, global_payload: Payload,
                  results: list[EnsembleFitResult]) -> Payload:
        """Return the new global ensemble built from this round's results."""


def check_results(results: list[EnsembleFitResult]) -> None:
    """Fail early, naming the host, on an empty round or a negative sample count."""
    if not results:
        raise ValueError("no client results to aggregate")
    for result in results:
        if result.num_examples < 0:
            raise ValueError(f"client {result.host!r} reported num_examples={result.num_examples}")
