"""Elastic-net logistic regression in NumPy: softmax cross-entropy plus an L1 + L2 penalty.

The penalty is Zou & Hastie's elastic net (2005, "Regularization and variable selection via
the elastic net", JRSS-B 67:301-320) in scikit-learn's `SGDClassifier` parametrisation:
`alpha * (l1_ratio * ||W||_1 + (1 - l1_ratio) / 2 * ||W||^2)`, biases exempt.

How the L1 part trains. `grad` returns a **subgradient** (`sign(W)`, 0 at 0), so the
existing SGD loop (`tasks.training.local_train`) and with it FedAvg, FedProx and SCAFFOLD
run unchanged; weights then hover near zero instead of landing on it. For exact zeros a loop
can instead step on `smooth_grad` and call `prox` after every step: that is proximal SGD
with soft-thresholding (the ISTA step of Beck & Teboulle 2009; the clipped form of
Tsuruoka et al. 2009 for SGD). `local_train` does the subgradient form today.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from tasks.models.base import Weights
from tasks.models.logreg import LinearSoftmax


def soft_threshold(values: np.ndarray, threshold: float) -> np.ndarray:
    """`sign(v) * max(|v| - t, 0)`: the proximal map of `t * ||v||_1`."""
    return np.sign(values) * np.maximum(np.abs(values) - threshold, 0.0)


class ElasticNet(LinearSoftmax):
    """Softmax regression with weights `[W (d, k), b (k,)]` and an elastic-net penalty on W.

    `l1_ratio=0` is ridge (logreg with `l2=alpha`), `l1_ratio=1` the lasso.
    """

    name: ClassVar[str] = "elastic_net"

    def __init__(
        self,
        n_features: int,
        n_classes: int,
        *,
        alpha: float = 1e-3,
        l1_ratio: float = 0.5,
        seed: int = 0,
    ) -> None:
        if not np.isfinite(alpha) or alpha < 0:
            raise ValueError(f"alpha must be a finite number >= 0, got {alpha!r}")
        if not np.isfinite(l1_ratio) or not 0.0 <= l1_ratio <= 1.0:
            raise ValueError(f"l1_ratio must be in [0, 1], got {l1_ratio!r}")
        super().__init__(n_features, n_classes, l2=float(alpha) * (1.0 - float(l1_ratio)), seed=seed)
        self.alpha = float(alpha)
        self.l1_ratio = float(l1_ratio)
        self.l1 = self.alpha * self.l1_ratio

    def loss(self, X: np.ndarray, y: np.ndarray) -> float:
        """Mean cross-entropy plus the whole elastic-net penalty (the objective being minimised)."""
        return super().loss(X, y) + self.l1 * float(np.abs(self._weights[0]).sum())

    def smooth_grad(self, X: np.ndarray, y: np.ndarray) -> Weights:
        """Gradient of the differentiable part (cross-entropy + L2), for a proximal step."""
        return super().grad(X, y)

    def grad(self, X: np.ndarray, y: np.ndarray) -> Weights:
        """A subgradient of `loss`: `smooth_grad` plus `l1 * sign(W)` (0 where W is 0)."""
        grads = self.smooth_grad(X, y)
        if self.l1 != 0.0:
            grads[0] = grads[0] + self.l1 * np.sign(self._weights[0])
        return grads

    def prox(self, weights: Weights, learning_rate: float) -> Weights:
        """Soft-threshold W by `learning_rate * l1` (biases untouched): the L1 proximal step."""
        if not np.isfinite(learning_rate) or learning_rate <= 0:
            raise ValueError(f"learning_rate must be a finite number > 0, got {learning_rate!r}")
        out = [np.array(w, dtype=np.float64, copy=True) for w in weights]
        out[0] = soft_threshold(out[0], learning_rate * self.l1)
        return out

    def __repr__(self) -> str:
        return (
            f"ElasticNet(n_features={self.n_features}, n_classes={self.n_classes}, alpha={self.alpha}, "
            f"l1_ratio={self.l1_ratio})"
        )
