"""The model contract every federated strategy relies on, plus a NumPy base class.

FedAvg only needs `get_weights`/`set_weights`; FedProx and SCAFFOLD also need
`grad` so that the training loop can add proximal and control-variate terms to
every step. That is why models are small NumPy classes and not sklearn
estimators. `Model` is a structural `Protocol`: any class with these members
(for example a later PyTorch wrapper) can be registered in `registry.py`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar, Protocol, runtime_checkable

import numpy as np

Weights = list[np.ndarray]
"""A model's parameters as a flat list of float64 arrays, in a fixed order."""


@runtime_checkable
class Model(Protocol):
    """What the client role and the strategies may call on a model."""

    name: ClassVar[str]
    n_features: int
    n_classes: int

    def get_weights(self) -> Weights:
        """Return copies of the parameters, so callers can never alias them."""
        ...

    def set_weights(self, weights: Weights) -> None:
        """Replace the parameters; raise ValueError naming any shape mismatch."""
        ...

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Class probabilities, shape (n, n_classes)."""
        ...

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Predicted class indices in 0..n_classes-1."""
        ...

    def loss(self, X: np.ndarray, y: np.ndarray) -> float:
        """Mean cross-entropy plus l2/2 * ||W||^2 over weight matrices."""
        ...

    def grad(self, X: np.ndarray, y: np.ndarray) -> Weights:
        """Gradient of `loss`; same shapes and order as `get_weights()`."""
        ...

    def num_parameters(self) -> int:
        """Total number of scalar parameters (for logging and payload sizing)."""
        ...


def check_dimensions(n_features: int, n_classes: int | None = None) -> None:
    """Refuse a model shape no training could have: ValueError naming the bad number."""
    if int(n_features) != n_features or n_features < 1:
        raise ValueError(f"n_features must be a positive integer, got {n_features!r}")
    if n_classes is not None and (int(n_classes) != n_classes or n_classes < 2):
        raise ValueError(f"n_classes must be an integer >= 2, got {n_classes!r}")


def check_X(X: np.ndarray, n_features: int) -> np.ndarray:
    """`X` as float64 records of `n_features` columns, or a ValueError naming the shape it has."""
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or X.shape[1] != n_features:
        raise ValueError(f"X must have shape (n, {n_features}), got {X.shape}")
    return X


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax, shifted by the row max so large logits cannot overflow."""
    z = logits - logits.max(axis=1, keepdims=True)
    np.exp(z, out=z)
    z /= z.sum(axis=1, keepdims=True)
    return z


def log_softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise log-softmax via log-sum-exp, stable where log(softmax) is not."""
    z = logits - logits.max(axis=1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=1, keepdims=True))


class SoftmaxModel(ABC):
    """Shared plumbing for NumPy models whose last layer is a softmax.

    Subclasses supply the forward pass to logits and the backward pass from
    d(loss)/d(logits); this class owns weight validation, the cross-entropy
    loss, the l2 term and input checking, so every model agrees on them.
    """

    name: ClassVar[str]
    weight_names: ClassVar[tuple[str, ...]]
    regularized: ClassVar[tuple[int, ...]]  # indices of weights that get l2 (matrices, not biases)

    def __init__(self, n_features: int, n_classes: int, *, l2: float = 0.0) -> None:
        check_dimensions(n_features, n_classes)
        if not np.isfinite(l2) or l2 < 0:
            raise ValueError(f"l2 must be a finite number >= 0, got {l2!r}")
        self.n_features = int(n_features)
        self.n_classes = int(n_classes)
        self.l2 = float(l2)
        self._weights: Weights = []

    # ---- subclass hooks -------------------------------------------------
    @abstractmethod
    def _forward(self, X: np.ndarray) -> tuple[np.ndarray, Any]:
        """Return logits (n, k) and whatever the backward pass needs."""

    @abstractmethod
    def _backward(self, X: np.ndarray, cache: Any, dlogits: np.ndarray) -> Weights:
        """Return gradients of the data loss given d(loss)/d(logits)."""

    # ---- weights ---------------------------------------------------------
    def get_weights(self) -> Weights:
        """Return copies, so a strategy mutating them cannot corrupt the model."""
        return [w.copy() for w in self._weights]

    def set_weights(self, weights: Weights) -> None:
        """Validate shapes against the current weights, then store float64 copies."""
        expected = [w.shape for w in self._weights]
        if len(weights) != len(expected):
            raise ValueError(
                f"{type(self).__name__} expects {len(expected)} weight arrays "
                f"{list(self.weight_names)}, got {len(weights)}"
            )
        new: Weights = []
        for i, (w, shape) in enumerate(zip(weights, expected)):
            arr = np.array(w, dtype=np.float64, copy=True)
            if arr.shape != shape:
                raise ValueError(
                    f"{type(self).__name__} weight {i} ({self.weight_names[i]!r}) has shape "
                    f"{arr.shape}, expected {shape}"
                )
            new.append(arr)
        self._weights = new

    def num_parameters(self) -> int:
        """Total scalar parameter count."""
        return int(sum(w.size for w in self._weights))

    # ---- inputs ----------------------------------------------------------
    def _check_X(self, X: np.ndarray) -> np.ndarray:
        return check_X(X, self.n_features)

    def _check_y(self, y: np.ndarray, n: int) -> np.ndarray:
        y = np.asarray(y)
        if y.shape != (n,):
            raise ValueError(f"y must have shape ({n},), got {y.shape}")
        if y.dtype.kind not in "iub":
            if not np.all(np.isfinite(y)) or not np.all(y == np.round(y)):
                raise ValueError("y must hold integer class indices")
        y = y.astype(np.intp)
        if n and (y.min() < 0 or y.max() >= self.n_classes):
            raise ValueError(f"y must hold class indices in 0..{self.n_classes - 1}")
        return y

    # ---- predictions, loss, gradient --------------------------------------
    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Softmax of the logits, shape (n, n_classes)."""
        logits, _ = self._forward(self._check_X(X))
        return softmax(logits)

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Argmax of the logits (same as of the probabilities, cheaper)."""
        logits, _ = self._forward(self._check_X(X))
        return logits.argmax(axis=1)

    def _penalty(self) -> float:
        if self.l2 == 0.0:
            return 0.0
        return 0.5 * self.l2 * float(sum(np.sum(self._weights[i] ** 2) for i in self.regularized))

    def _record_losses(self, scores: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(each record's loss, its derivative w.r.t. the scores): cross-entropy here; a model with
        another loss on the same scores (the hinge) overrides only this."""
        rows = np.arange(scores.shape[0])
        losses = -log_softmax(scores)[rows, y]
        dscores = softmax(scores)
        dscores[rows, y] -= 1.0
        return losses, dscores

    def loss(self, X: np.ndarray, y: np.ndarray) -> float:
        """Mean record loss plus l2/2 * sum of squared weight matrices (biases exempt)."""
        X = self._check_X(X)
        y = self._check_y(y, X.shape[0])
        if X.shape[0] == 0:
            raise ValueError("loss of an empty dataset is undefined")
        scores, _ = self._forward(X)
        losses, _ = self._record_losses(scores, y)
        return float(losses.mean()) + self._penalty()

    def grad(self, X: np.ndarray, y: np.ndarray) -> Weights:
        """(Sub)gradient of `loss` w.r.t. every weight, in `get_weights()` order."""
        X = self._check_X(X)
        y = self._check_y(y, X.shape[0])
        n = X.shape[0]
        if n == 0:
            raise ValueError("gradient of an empty dataset is undefined")
        scores, cache = self._forward(X)
        _, dscores = self._record_losses(scores, y)
        grads = self._backward(X, cache, dscores / n)
        if self.l2 != 0.0:
            for i in self.regularized:
                grads[i] = grads[i] + self.l2 * self._weights[i]
        return grads

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(n_features={self.n_features}, n_classes={self.n_classes}, "
            f"l2={self.l2})"
        )
