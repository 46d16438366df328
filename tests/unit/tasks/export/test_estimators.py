"""scikit-learn estimators rebuilt from federated weights and node tables score as fedpe does."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer, load_digits

from tasks.ensembles.forest import RandomForest, WeightedRandomForest, grow_trees, weigh_by_accuracy
from tasks.export.estimators import check_same_predictions, forest_estimator, linear_estimator, probes
from tasks.models.registry import build_model


def _data(loader):
    X, y = loader(return_X_y=True)
    X = (X - X.mean(axis=0)) / (X.std(axis=0) + 1e-9)
    return X[:300], y[:300], int(np.unique(y).size)


@pytest.mark.parametrize("loader", [load_breast_cancer, load_digits])
@pytest.mark.parametrize("name", ["logreg", "elastic_net", "linear_svm"])
def test_a_linear_estimator_predicts_fedpes_labels_and_scores(loader, name):
    X, y, k = _data(loader)
    rng = np.random.default_rng(1)
    model = build_model(name, X.shape[1], k)
    model.set_weights([rng.normal(size=(X.shape[1], k)), rng.normal(size=k)])
    labels = [f"class-{i}" for i in range(k)]

    estimator = linear_estimator(name, model.get_weights(), labels)

    assert list(estimator.predict(X)) == [labels[i] for i in model.predict(X)]
    if name != "linear_svm":
        assert np.allclose(estimator.predict_proba(X), model.predict_proba(X), atol=1e-12)
    check_same_predictions(estimator, model, probes(X.shape[1]))


@pytest.mark.parametrize("loader", [load_breast_cancer, load_digits])
@pytest.mark.parametrize("weighted", [False, True])
def test_a_rebuilt_forest_votes_as_fedpes_forest_with_missing_values(loader, weighted):
    X, y, k = _data(loader)
    rng = np.random.default_rng(2)
    X[rng.random(X.shape) < 0.1] = np.nan
    tables = grow_trees(X, y, n_classes=k, n_trees=6, rng=rng, max_depth=5)
    if weighted:
        tables = weigh_by_accuracy(tables, X[:80], y[:80])
    forest = (WeightedRandomForest if weighted else RandomForest)(X.shape[1], k)
    forest.set_payload(tables)

    estimator = forest_estimator(tables, X.shape[1], list(range(10, 10 + k)))

    assert np.allclose(estimator.predict_proba(X), forest.predict_proba(X), atol=1e-12)
    assert np.array_equal(estimator.predict(X), 10 + forest.predict(X))
    check_same_predictions(estimator, forest, probes(X.shape[1], tables))


def test_a_forest_whose_trees_all_weigh_nothing_has_no_sklearn_form():
    X, y, k = _data(load_breast_cancer)
    tables = weigh_by_accuracy(grow_trees(X, y, n_classes=k, n_trees=2, rng=np.random.default_rng(0)),
                               X[:0], y[:0])
    tables = [{**t, "weight": np.float64(0.0)} for t in tables]

    with pytest.raises(ValueError, match="weighs 0"):
        forest_estimator(tables, X.shape[1], [0, 1])


def test_a_mismatch_with_fedpes_predictor_is_caught():
    X, y, k = _data(load_breast_cancer)
    model = build_model("logreg", X.shape[1], k)
    model.set_weights([np.random.default_rng(3).normal(size=(X.shape[1], k)), np.zeros(k)])
    estimator = linear_estimator("logreg", model.get_weights(), [0, 1])
    estimator.intercept_ = estimator.intercept_ + 5.0

    with pytest.raises(ValueError, match="differ"):
        check_same_predictions(estimator, model, X)
