"""The NumPy models, trained by local_train, must match a central sklearn baseline."""

from __future__ import annotations

import numpy as np
from sklearn.datasets import load_breast_cancer, load_digits
from sklearn.linear_model import LogisticRegression as SkLogisticRegression
from sklearn.model_selection import train_test_split

from tasks.models import MLP, LogisticRegression
from tasks.training import combine_feature_sums, evaluate, feature_sums, local_train, standardize


def _split_standardized(X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, ...]:
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.25, random_state=0, stratify=y)
    mean, std = combine_feature_sums([feature_sums(X_tr)])
    return standardize(X_tr, mean, std), standardize(X_te, mean, std), y_tr, y_te


def test_logreg_matches_sklearn_on_breast_cancer() -> None:
    # Prepare
    X, y = load_breast_cancer(return_X_y=True)
    X_tr, X_te, y_tr, y_te = _split_standardized(X, y)
    baseline = SkLogisticRegression(max_iter=1000).fit(X_tr, y_tr).score(X_te, y_te)
    # sklearn's C=1 penalty 1/2*||w||^2 on the summed loss is l2 = 1/n on our mean loss
    model = LogisticRegression(X.shape[1], 2, l2=1.0 / len(y_tr))
    # Execute
    result = local_train(
        model, X_tr, y_tr, epochs=200, batch_size=None, learning_rate=0.5, rng=np.random.default_rng(0)
    )
    metrics = evaluate(model, X_te, y_te)
    # Assert
    assert result.steps == 200 and result.loss_after < result.loss_before
    assert metrics["num_examples"] == len(y_te)
    assert abs(metrics["accuracy"] - baseline) <= 0.02


def test_mlp_reaches_95_percent_on_digits() -> None:
    # Prepare
    X, y = load_digits(return_X_y=True)
    X_tr, X_te, y_tr, y_te = _split_standardized(X, y)
    model = MLP(X.shape[1], 10, hidden=64, seed=0)
    # Execute
    result = local_train(
        model, X_tr, y_tr, epochs=30, batch_size=32, learning_rate=0.05, rng=np.random.default_rng(0)
    )
    metrics = evaluate(model, X_te, y_te)
    # Assert
    assert result.steps == 30 * int(np.ceil(len(y_tr) / 32))
    assert metrics["accuracy"] >= 0.95
