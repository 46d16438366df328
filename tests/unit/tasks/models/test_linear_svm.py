"""Linear SVM: hinge losses by hand, subgradients, and accuracy near scikit-learn's LinearSVC."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer, load_digits
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler
from sklearn.svm import LinearSVC

from tasks.models.linear_svm import LinearSVM
from tasks.training import local_train


def test_ovr_hinge_by_hand() -> None:
    # Prepare: one record of class 0 with margins (0.5, -2, 0.2)
    model = LinearSVM(1, 3, l2=0.0)
    model.set_weights([np.zeros((1, 3)), np.array([0.5, -2.0, 0.2])])
    # Execute
    loss = model.loss(np.zeros((1, 1)), np.array([0]))
    grad_b = model.grad(np.zeros((1, 1)), np.array([0]))[1]
    # Assert: hinges 1-0.5, max(0, 1-2), 1+0.2
    assert loss == pytest.approx(0.5 + 0.0 + 1.2)
    np.testing.assert_allclose(grad_b, [-1.0, 0.0, 1.0])


def test_crammer_singer_hinge_by_hand() -> None:
    # Prepare
    model = LinearSVM(1, 3, l2=0.0, multiclass="crammer_singer")
    model.set_weights([np.zeros((1, 3)), np.array([0.5, -2.0, 0.2])])
    # Execute
    loss = model.loss(np.zeros((1, 1)), np.array([0]))
    grad_b = model.grad(np.zeros((1, 1)), np.array([0]))[1]
    # Assert: 1 + max(-2, 0.2) - 0.5
    assert loss == pytest.approx(0.7)
    np.testing.assert_allclose(grad_b, [-1.0, 0.0, 1.0])


@pytest.mark.parametrize("multiclass", ["ovr", "crammer_singer"])
def test_subgradient_matches_finite_differences_off_the_kinks(multiclass: str) -> None:
    # Prepare
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(30, 4)), rng.integers(0, 3, size=30)
    model = LinearSVM(4, 3, l2=0.1, multiclass=multiclass)  # type: ignore[arg-type]
    model.set_weights([rng.normal(size=(4, 3)), rng.normal(size=3)])
    w = model.get_weights()
    eps = 1e-7
    # Execute
    g = model.grad(X, y)[0]
    num = np.zeros_like(w[0])
    for j in np.ndindex(w[0].shape):
        plus, minus = [a.copy() for a in w], [a.copy() for a in w]
        plus[0][j] += eps
        minus[0][j] -= eps
        model.set_weights(plus)
        lp = model.loss(X, y)
        model.set_weights(minus)
        num[j] = (lp - model.loss(X, y)) / (2 * eps)
    # Assert
    np.testing.assert_allclose(g, num, atol=1e-5)


@pytest.mark.parametrize(("loader", "multiclass"), [(load_breast_cancer, "ovr"), (load_digits, "crammer_singer")])
def test_sgd_reaches_linearsvc_accuracy(loader, multiclass: str) -> None:
    # Prepare
    X, y = loader(return_X_y=True)
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.25, random_state=0, stratify=y)
    scaler = StandardScaler().fit(X_tr)
    X_tr, X_te = scaler.transform(X_tr), scaler.transform(X_te)
    k = len(np.unique(y))
    baseline = LinearSVC(multi_class=multiclass, max_iter=20000).fit(X_tr, y_tr).score(X_te, y_te)
    model = LinearSVM(X.shape[1], k, l2=1e-3, multiclass=multiclass)  # type: ignore[arg-type]
    # Execute
    local_train(model, X_tr, y_tr, epochs=20, batch_size=32, learning_rate=0.01, rng=np.random.default_rng(0))
    accuracy = float(np.mean(model.predict(X_te) == y_te))
    proba = model.predict_proba(X_te)
    # Assert
    assert accuracy >= baseline - 0.02, (accuracy, baseline)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert np.array_equal(proba.argmax(axis=1), model.predict(X_te))


def test_bad_multiclass_is_refused() -> None:
    # Prepare / Execute / Assert
    with pytest.raises(ValueError, match="multiclass"):
        LinearSVM(2, 2, multiclass="ova")  # type: ignore[arg-type]
