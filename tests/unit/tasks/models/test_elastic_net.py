"""Elastic net: the penalty by hand, subgradient vs prox, and accuracy near scikit-learn's."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression as SkLogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from tasks.models import LogisticRegression
from tasks.models.elastic_net import ElasticNet, soft_threshold
from tasks.training import local_train


def test_penalty_by_hand() -> None:
    # Prepare
    model = ElasticNet(2, 2, alpha=0.5, l1_ratio=0.25)
    model.set_weights([np.array([[1.0, -2.0], [0.0, 3.0]]), np.array([5.0, 5.0])])
    plain = LogisticRegression(2, 2)
    plain.set_weights(model.get_weights())
    X, y = np.zeros((1, 2)), np.array([1])
    # Execute
    extra = model.loss(X, y) - plain.loss(X, y)
    # Assert: 0.5 * (0.25 * 6 + 0.75 / 2 * 14), biases exempt
    assert extra == pytest.approx(0.5 * (0.25 * 6 + 0.375 * 14))


def test_grad_is_smooth_grad_plus_l1_sign() -> None:
    # Prepare
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(20, 3)), rng.integers(0, 2, size=20)
    model = ElasticNet(3, 2, alpha=0.2, l1_ratio=0.5)
    W = rng.normal(size=(3, 2))
    W[0, 0] = 0.0
    model.set_weights([W, np.zeros(2)])
    # Execute
    full, smooth = model.grad(X, y), model.smooth_grad(X, y)
    # Assert
    np.testing.assert_allclose(full[0] - smooth[0], 0.1 * np.sign(W))
    assert full[0][0, 0] == smooth[0][0, 0]  # subgradient 0 at 0
    np.testing.assert_allclose(full[1], smooth[1])


def test_prox_soft_thresholds_weights_only() -> None:
    # Prepare
    model = ElasticNet(1, 2, alpha=1.0, l1_ratio=1.0)
    # Execute
    out = model.prox([np.array([[0.3, -0.05]]), np.array([0.01, -0.01])], learning_rate=0.1)
    # Assert
    np.testing.assert_allclose(out[0], [[0.2, 0.0]])
    np.testing.assert_allclose(out[1], [0.01, -0.01])
    np.testing.assert_allclose(soft_threshold(np.array([-1.0, 0.5]), 0.5), [-0.5, 0.0])


def test_sgd_reaches_sklearn_elastic_net_accuracy() -> None:
    # Prepare
    X, y = load_breast_cancer(return_X_y=True)
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.25, random_state=0, stratify=y)
    scaler = StandardScaler().fit(X_tr)
    X_tr, X_te = scaler.transform(X_tr), scaler.transform(X_te)
    alpha, l1_ratio = 1e-2, 0.5
    # sklearn's C penalises the summed loss: C = 1 / (n * alpha) gives the same objective
    baseline = SkLogisticRegression(solver="saga", l1_ratio=l1_ratio,
                                    C=1.0 / (len(y_tr) * alpha), max_iter=5000).fit(X_tr, y_tr).score(X_te, y_te)
    model = ElasticNet(X.shape[1], 2, alpha=alpha, l1_ratio=l1_ratio)
    # Execute
    local_train(model, X_tr, y_tr, epochs=20, batch_size=32, learning_rate=0.05, rng=np.random.default_rng(0))
    # Assert
    assert float(np.mean(model.predict(X_te) == y_te)) >= baseline - 0.02


def test_bad_options_are_refused() -> None:
    # Prepare / Execute / Assert
    with pytest.raises(ValueError, match="l1_ratio"):
        ElasticNet(2, 2, l1_ratio=1.5)
    with pytest.raises(ValueError, match="alpha"):
        ElasticNet(2, 2, alpha=-1)
