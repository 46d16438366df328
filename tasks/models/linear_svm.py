"""A linear support vector machine in NumPy: multiclass hinge loss with an l2 penalty.

Two multiclass rules, as scikit-learn's `LinearSVC(multi_class=...)` offers them:
`"ovr"` sums one binary hinge per class (Vapnik's soft margin, one class against the rest)
and `"crammer_singer"` takes one hinge on the gap between the true class and the best
other class (Crammer & Singer 2001, "On the Algorithmic Implementation of Multiclass
Kernel-based Vector Machines", JMLR 2:265-292). The hinge is not differentiable at the
margin, so `grad` returns a subgradient (0 at the kink), which is what SGD on the SVM
primal uses (Shalev-Shwartz et al. 2007, "Pegasos"). `predict_proba` is a softmax of the
margins: not calibrated probabilities, but monotone in them, so ROC AUC and the other
metrics work on it.
"""

from __future__ import annotations

from typing import ClassVar, Literal

import numpy as np

from tasks.models.base import Weights
from tasks.models.logreg import LinearSoftmax

MultiClass = Literal["ovr", "crammer_singer"]


class LinearSVM(LinearSoftmax):
    """Margins `X W + b` with weights `[W (d, k), b (k,)]`; l2 applies to W only.

    The loss is the mean hinge over records plus `l2/2 * ||W||^2`; zero init, like logreg,
    so every host starts from the same point without sharing a seed.
    """

    name: ClassVar[str] = "linear_svm"

    def __init__(
        self,
        n_features: int,
        n_classes: int,
        *,
        l2: float = 1e-3,
        multiclass: MultiClass = "ovr",
        seed: int = 0,
    ) -> None:
        super().__init__(n_features, n_classes, l2=l2, seed=seed)
        if multiclass not in ("ovr", "crammer_singer"):
            raise ValueError(f"multiclass must be 'ovr' or 'crammer_singer', got {multiclass!r}")
        self.multiclass: MultiClass = multiclass

    def _record_losses(self, margins: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
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

    def decision_function(self, X: np.ndarray) -> np.ndarray:
        """The raw margins, shape (n, n_classes), as scikit-learn's SVMs name them."""
        margins, _ = self._forward(self._check_X(X))
        return margins

    def __repr__(self) -> str:
        return (
            f"LinearSVM(n_features={self.n_features}, n_classes={self.n_classes}, l2={self.l2}, "
            f"multiclass={self.multiclass!r})"
        )
