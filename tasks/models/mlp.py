"""One-hidden-layer ReLU network with a softmax output, in NumPy.

The non-convex model, so strategies are also exercised where client drift
matters. Init comes only from `np.random.default_rng(seed)`, so every host
that builds it with the same seed starts from identical weights.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from tasks.models.base import SoftmaxModel, Weights


def check_hidden(hidden: int) -> int:
    """`hidden` as an int; ValueError unless it is a positive integer."""
    if int(hidden) != hidden or hidden < 1:
        raise ValueError(f"hidden must be a positive integer, got {hidden!r}")
    return int(hidden)


def initial_weights(n_features: int, hidden: int, n_classes: int, seed: int) -> Weights:
    """`[W1, b1, W2, b2]` drawn only from `default_rng(seed)`: He-normal matrices, zero biases.

    One draw for the NumPy `MLP` and the `TorchMLP`, so both start from the same weights.
    """
    rng = np.random.default_rng(seed)
    d, h, k = n_features, hidden, n_classes
    return [
        rng.standard_normal((d, h)) * np.sqrt(2.0 / d),
        np.zeros(h, dtype=np.float64),
        rng.standard_normal((h, k)) * np.sqrt(2.0 / h),
        np.zeros(k, dtype=np.float64),
    ]


class MLP(SoftmaxModel):
    """`X -> ReLU(X W1 + b1) -> W2 + b2 -> softmax`; weights `[W1, b1, W2, b2]`.

    W1 and W2 get He-normal init (std sqrt(2 / fan_in)), biases start at zero;
    l2 applies to W1 and W2 only.
    """

    name: ClassVar[str] = "mlp"
    weight_names: ClassVar[tuple[str, ...]] = ("W1", "b1", "W2", "b2")
    regularized: ClassVar[tuple[int, ...]] = (0, 2)

    def __init__(
        self,
        n_features: int,
        n_classes: int,
        *,
        hidden: int = 64,
        l2: float = 0.0,
        seed: int = 0,
    ) -> None:
        super().__init__(n_features, n_classes, l2=l2)
        self.hidden = check_hidden(hidden)
        self.seed = seed
        self._weights = initial_weights(self.n_features, self.hidden, self.n_classes, seed)

    def _forward(self, X: np.ndarray) -> tuple[np.ndarray, Any]:
        W1, b1, W2, b2 = self._weights
        H = X @ W1 + b1
        np.maximum(H, 0.0, out=H)
        return H @ W2 + b2, H

    def _backward(self, X: np.ndarray, cache: Any, dlogits: np.ndarray) -> Weights:
        H = cache
        W2 = self._weights[2]
        dW2 = H.T @ dlogits
        db2 = dlogits.sum(axis=0)
        dH = dlogits @ W2.T
        dH *= H > 0.0  # ReLU derivative (0 at the kink)
        return [X.T @ dH, dH.sum(axis=0), dW2, db2]

    def __repr__(self) -> str:
        return (
            f"MLP(n_features={self.n_features}, n_classes={self.n_classes}, "
            f"hidden={self.hidden}, l2={self.l2}, seed={self.seed})"
        )
