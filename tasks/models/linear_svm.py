"""A linear support vector machine in NumPy: multiclass hinge loss with an l2 penalty.

Two multiclass rules, as scikit-learn's ``LinearSVC(multi_class=...)`` offers them:
``"ovr"`` sums one binary hinge per class (Vapnik's soft margin, one class against the rest)
and ``"crammer_singer"`` takes one hinge on the gap between the true class and the best
other class (Crammer & Singer 2001, "On the Algorithmic Implementation of Multiclass
Kernel-based Vector Machines", JMLR 2:265-292). The hinge is not differentiable at the
margin, so ``grad`` returns a subgradient (0 at the kink), which is what SGD on the SVM
primal uses (Shalev-Shwartz et al. 2007, "Pegasos"). ``predict_proba`` is a softmax of the
margins: not calibrated probabilities, but monotone in them, so ROC AUC and the other
metrics work on it.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

import numpy as np

from tasks.models.base import SoftmaxModel, Weights

MultiClass = Literal["ovr", "crammer_singer"]


class LinearSVM(SoftmaxModel):
    """Margins ``X W + b`` with weights ``[W (d, k), b (k,)]``; l2 applies to W only.

    The loss is the mean hinge over records plus ``l2/2 * ||W||^2``; zero init, like logreg,
    so every host starts from the same point without sharing a seed.
    """

    name: ClassVar[str] = "linear_svm"
    weight_names: ClassVar[tuple[str, ...]] = ("W", "b")
    regularized: ClassVar[tuple[int, ...]] = (0,)

    def __init__(
        self,
        n_features: int,
        n_classes: int,
        *,
        l2: float = 1e-3,
        multiclass: MultiClass = "ovr",
        seed: int = 0,
    ) -> None:
        super().__init__(n_features, n_classes, l2=l2)
        if multiclass not in ("ovr", "crammer_singer"):
            raise ValueError(f"multiclass must be 'ovr' or 'crammer_singer', got {multiclass!r}")
        self.multiclass: MultiClass = multiclass
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

    def _hinge(self, margins: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per-record hinge losses and d(sum of them)/d(margins), one subgradient."""
        n, k = margins.shape
        rows = np.arange(n)
        if self.multiclass == "ovr":
            signs = -np.ones((n, k))
            signs[rows, y] = 1.0
            slack = 1.0 - signs * margins
            active = slack > 0.0
            return np.where(active, slack, 0.0).sum(axis=1), np.where(active, -signs, 0.0)
        others = margins.copy()
        others[rows, y] = -np.inf
        rival = others.argmax(axis=1)
        slack = 1.0 + margins[rows, rival] - margins[rows, y]
        active = slack > 0.0
        dmargins = np.zeros((n, k))
        dmargins[rows[active], rival[active]] = 1.0
        dmargins[rows[active], y[active]] = -1.0
        return np.where(active, slack, 0.0), dmargins

    def loss(self, X: np.ndarray, y: np.ndarray) -> float:
        """Mean multiclass hinge plus l2/2 * ||W||^2 (the SVM primal objective, per record)."""
        X = self._check_X(X)
        y = self._check_y(y, X.shape[0])
        if X.shape[0] == 0:
            raise ValueError("loss of an empty dataset is undefined")
        margins, _ = self._forward(X)
        losses, _ = self._hinge(margins, y)
        return float(losses.mean()) + self._penalty()

    def grad(self, X: np.ndarray, y: np.ndarray) -> Weights:
        """A subgradient of ``loss`` (0 at the hinge's kink), in ``get_weights()`` order."""
        X = self._check_X(X)
        y = self._check_y(y, X.shape[0])
        n = X.shape[0]
        if n == 0:
            raise ValueError("gradient of an empty dataset is undefined")
        margins, cache = self._forward(X)
        _, dmargins = self._hinge(margins, y)
        grads = self._backward(X, cache, dmargins / n)
        if self.l2 != 0.0:
            grads[0] = grads[0] + self.l2 * self._weights[0]
        return grads

    def decision_function(self, X: np.ndarray) -> np.ndarray:
        """The raw margins, shape (n, n_classes), as scikit-learn's SVMs name them."""
        margins, _ = self._forward(self._check_X(X))
        return margins

    def __repr__(self) -> str:
        return (
            f"LinearSVM(n_features={self.n_features}, n_classes={self.n_classes}, l2={self.l2}, "
            f"multiclass={self.multiclass!r})"
        )
