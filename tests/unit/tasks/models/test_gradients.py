"""Analytic gradients must match central finite differences: FedProx/SCAFFOLD trust them."""

from __future__ import annotations

import numpy as np
import pytest

from tasks.models import MLP, LogisticRegression, Model


def _numeric_grad(model: Model, X: np.ndarray, y: np.ndarray, eps: float = 1e-6) -> list[np.ndarray]:
    base = model.get_weights()
    out = []
    for i, w in enumerate(base):
        g = np.zeros_like(w)
        for j in np.ndindex(w.shape):
            plus = [v.copy() for v in base]
            minus = [v.copy() for v in base]
            plus[i][j] += eps
            minus[i][j] -= eps
            model.set_weights(plus)
            lp = model.loss(X, y)
            model.set_weights(minus)
            lm = model.loss(X, y)
            g[j] = (lp - lm) / (2 * eps)
        out.append(g)
    model.set_weights(base)
    return out


def _rel_error(a: list[np.ndarray], b: list[np.ndarray]) -> float:
    fa = np.concatenate([x.ravel() for x in a])
    fb = np.concatenate([x.ravel() for x in b])
    return float(np.linalg.norm(fa - fb) / max(np.linalg.norm(fa) + np.linalg.norm(fb), 1e-300))


def _build(kind: str, l2: float) -> Model:
    if kind == "logreg":
        model = LogisticRegression(4, 3, l2=l2)
        # move away from the all-zero init so every term of the gradient is exercised
        rng = np.random.default_rng(1)
        model.set_weights([rng.normal(size=w.shape) for w in model.get_weights()])
        return model
    model = MLP(4, 3, hidden=5, l2=l2, seed=2)
    rng = np.random.default_rng(3)
    w = model.get_weights()
    w[1] = rng.normal(scale=0.1, size=w[1].shape)
    w[3] = rng.normal(scale=0.1, size=w[3].shape)
    model.set_weights(w)
    return model


@pytest.mark.parametrize("kind", ["logreg", "mlp"])
@pytest.mark.parametrize("l2", [0.0, 0.3])
def test_grad_matches_central_finite_differences(kind: str, l2: float) -> None:
    # Prepare
    rng = np.random.default_rng(0)
    X = rng.normal(size=(7, 4))
    y = rng.integers(0, 3, size=7)
    model = _build(kind, l2)
    # Execute
    analytic = model.grad(X, y)
    numeric = _numeric_grad(model, X, y)
    # Assert
    assert [g.shape for g in analytic] == [w.shape for w in model.get_weights()]
    assert _rel_error(analytic, numeric) < 1e-5


def test_binary_logreg_grad_matches_finite_differences() -> None:
    # Prepare
    rng = np.random.default_rng(5)
    X = rng.normal(size=(6, 3))
    y = np.array([0, 1, 1, 0, 1, 0])
    model = LogisticRegression(3, 2, l2=0.1)
    model.set_weights([rng.normal(size=w.shape) for w in model.get_weights()])
    # Execute
    analytic = model.grad(X, y)
    numeric = _numeric_grad(model, X, y)
    # Assert
    assert _rel_error(analytic, numeric) < 1e-5


def test_l2_term_is_added_to_loss_for_matrices_only() -> None:
    # Prepare
    rng = np.random.default_rng(6)
    X = rng.normal(size=(5, 3))
    y = rng.integers(0, 2, size=5)
    plain = LogisticRegression(3, 2)
    reg = LogisticRegression(3, 2, l2=0.5)
    weights = [rng.normal(size=(3, 2)), rng.normal(size=2)]
    plain.set_weights(weights)
    reg.set_weights(weights)
    # Execute
    diff = reg.loss(X, y) - plain.loss(X, y)
    # Assert
    assert diff == pytest.approx(0.25 * np.sum(weights[0] ** 2), rel=1e-12)
