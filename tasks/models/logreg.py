"""Multinomial (softmax) logistic regression in NumPy.

The convex baseline model: with zero init, every client and the server start
from the same point without sharing a seed, and its loss is what q-FFL and the
tests reason about by hand.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from tasks.models.base import SoftmaxModel, Weights


class LinearSoftmax(SoftmaxModel):
    """The linear layer the linear models share: scores `X W + b` with weights
    `[W (d, k), b (k,)]`, l2 on W only, zero init (every host starts from the same point
    without sharing a seed). Logreg, the linear SVM and the elastic net differ in their loss only.
    """

    weight_names: ClassVar[tuple[str, ...]] = ("W", "b")
    regularized: ClassVar[tuple[int, ...]] = (0,)

    def __init__(self, n_features: int, n_classes: int, *, l2: float = 0.0, seed: int = 0) -> None:
        super().__init__(n_features, n_classes, l2=l2)
        self.seed = seed
        self._weights = [
            np.zeros((self.n_features, self.n_classes), dtype=np.float64),
            np.zeros(self.n_classes, dtype=np.float64),
        ]

    def _forward(self, X: np.ndarray) -> tuple[np.ndarray, Any]:
        W, b = self._weights
        return X @ W + b, None

    def _backward(self, X: np.ndarray, cache: Any, dlogits: np.ndarray) -> Weights:
        return [X.T @ dlogits, dlogits.sum(axis=0)]


class LogisticRegression(LinearSoftmax):
    """Softmax regression with weights `[W (d, k), b (k,)]`; k=2 uses two columns too.

    `seed` is accepted so every model has the same constructor shape for the
    registry; the init is all zeros and does not depend on it.
    """

    name: ClassVar[str] = "logreg"
