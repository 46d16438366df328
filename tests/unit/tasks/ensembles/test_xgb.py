"""XGBoost bagging appends boosting rounds exactly; cyclic goes round robin; bytes on the wire."""

from __future__ import annotations

import numpy as np
import pytest
import xgboost as xgb

from tasks.data.demo import central_split
from tasks.data.partition import partition_iid
from tasks.ensembles import EnsembleFitResult, XGBoostBagging, XGBoostCyclic, build_ensemble
from tasks.ensembles.xgb import (
    append_trees,
    boost,
    booster_params,
    booster_to_bytes,
    new_trees,
    num_rounds,
    predict_proba_bytes,
)


def _data(k: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(200, 4))
    y = np.digitize(X[:, 0] + 0.3 * X[:, 1], np.linspace(-1, 1, k - 1)) if k > 2 else (X[:, 0] > 0).astype(int)
    X[rng.random(X.shape) < 0.1] = np.nan
    return X, y


@pytest.mark.parametrize("k", [2, 3])
def test_appending_new_trees_rebuilds_the_continued_booster(k: int) -> None:
    # Prepare: a global booster of 2 rounds, a client continues it by 2 rounds on other data
    params = booster_params(k, seed=0)
    X, y = _data(k)
    X2, y2 = _data(k, seed=1)
    global_bytes = booster_to_bytes(boost(None, X, y, params=params, local_rounds=2))
    continued = boost(global_bytes, X2, y2, params=params, local_rounds=2)
    # Execute
    merged = append_trees(global_bytes, new_trees(continued, 2))
    # Assert
    assert isinstance(merged, bytes) and num_rounds(merged) == 4
    expected = continued.predict(xgb.DMatrix(X2, missing=np.nan))
    expected = np.column_stack([1 - expected, expected]) if k == 2 else expected
    np.testing.assert_allclose(predict_proba_bytes(merged, X2, k), expected, atol=1e-6)


def test_bagging_aggregator_appends_every_client_in_host_order() -> None:
    # Prepare
    params = booster_params(2)
    X, y = _data(2)
    a = new_trees(boost(None, X[:100], y[:100], params=params, local_rounds=1), 1)
    b = new_trees(boost(None, X[100:], y[100:], params=params, local_rounds=1), 1)
    results = [EnsembleFitResult("h-b", b, 100), EnsembleFitResult("h-a", a, 100)]
    # Execute
    merged = XGBoostBagging().aggregate(1, None, results)
    # Assert
    assert num_rounds(merged) == 2
    assert merged == append_trees(a, b)
    with pytest.raises(ValueError, match="'h-x' sent list"):
        XGBoostBagging().aggregate(2, merged, [EnsembleFitResult("h-x", [1], 3)])


def test_append_refuses_boosters_of_different_classes() -> None:
    # Prepare
    X2, y2 = _data(2)
    X3, y3 = _data(3)
    two = booster_to_bytes(boost(None, X2, y2, params=booster_params(2), local_rounds=1))
    three = booster_to_bytes(boost(None, X3, y3, params=booster_params(3), local_rounds=1))
    # Execute / Assert
    with pytest.raises(ValueError, match="num_class"):
        append_trees(two, three)


def test_cyclic_takes_one_client_a_round_round_robin() -> None:
    # Prepare
    cyclic = XGBoostCyclic()
    hosts = ["h1", "h2", "h3"]
    # Execute
    picks = [cyclic.select_clients(r, hosts) for r in range(1, 6)]
    # Assert
    assert picks == [["h1"], ["h2"], ["h3"], ["h1"], ["h2"]]
    assert cyclic.aggregate(1, None, [EnsembleFitResult("h1", b"{}", 5)]) == b"{}"
    with pytest.raises(ValueError, match="one client"):
        cyclic.aggregate(1, None, [EnsembleFitResult("h1", b"{}", 5), EnsembleFitResult("h2", b"{}", 5)])


@pytest.mark.parametrize(("training", "rounds"), [("bagging", 10), ("cyclic", 20)])
def test_federated_xgboost_on_demo_breast_cancer_with_defaults(training: str, rounds: int) -> None:
    # Prepare: the demo's global split, its training pool over 3 hosts
    train, test = central_split("breast-cancer", seed=0)
    features = [c for c in train.columns if c != "target"]
    X_tr, y_tr = train[features].to_numpy(float), train["target"].to_numpy()
    X_te, y_te = test[features].to_numpy(float), test["target"].to_numpy()
    parts = partition_iid(len(y_tr), 3, 0)
    hosts = ["h0", "h1", "h2"]
    clients = {h: build_ensemble("xgboost", 30, 2, training=training) for h in hosts}
    server = build_ensemble("xgboost", 30, 2, training=training)
    aggregator, booster = server.aggregator(), None
    # Execute
    for rnd in range(1, rounds + 1):
        chosen = aggregator.select_clients(rnd, hosts)
        results = [EnsembleFitResult(h, clients[h].fit_round(booster, X_tr[parts[i]], y_tr[parts[i]], server_round=rnd),
                                     len(parts[i])) for i, h in enumerate(hosts) if h in chosen]
        booster = aggregator.aggregate(rnd, booster, results)
    server.set_payload(booster)
    accuracy = float(np.mean(server.predict(X_te) == y_te))
    # Assert
    assert isinstance(booster, bytes)
    assert accuracy >= 0.93, accuracy


def test_options_are_checked() -> None:
    # Prepare / Execute / Assert
    with pytest.raises(ValueError, match="training"):
        build_ensemble("xgboost", 3, 2, training="boosting")
    with pytest.raises(ValueError, match="bytes"):
        build_ensemble("xgboost", 3, 2).set_payload([1, 2])
    np.testing.assert_allclose(build_ensemble("xgboost", 3, 2).predict_proba(np.zeros((2, 3))), 0.5)
