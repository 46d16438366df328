"""Random forest node tables predict as scikit-learn does; the server selects by sample count; the
weighted forest's trees vote with their validation accuracy."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer
from sklearn.ensemble import RandomForestClassifier
from sklearn.model_selection import train_test_split
from sklearn.tree import DecisionTreeClassifier

from tasks.data.partition import partition_iid
from tasks.ensembles import EnsembleFitResult, build_ensemble
from tasks.ensembles.forest import (
    TREE_FIELDS,
    WEIGHT_FIELD,
    check_table,
    forest_predict_proba,
    grow_trees,
    select_trees,
    tree_predict_proba,
    tree_to_table,
    weigh_by_accuracy,
)


def _data_with_nan(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(300, 4))
    y = (X[:, 0] + 0.5 * X[:, 1] > 0).astype(int) + (X[:, 2] > 1).astype(int)
    X[rng.random((300, 4)) < 0.15] = np.nan
    X[:, 3] = rng.normal(size=300)  # no NaN in training for feature 3
    return X, y


def test_node_table_predicts_exactly_as_sklearn_with_missing_values() -> None:
    # Prepare
    X, y = _data_with_nan()
    tree = DecisionTreeClassifier(max_depth=5, random_state=0).fit(X, y)
    X_test, _ = _data_with_nan(seed=1)
    X_test[::7, 3] = np.nan  # NaN where training never saw one
    # Execute
    table = tree_to_table(tree, n_classes=3)
    ours = tree_predict_proba(table, X_test)
    # Assert
    assert set(table) == set(TREE_FIELDS)
    assert all(isinstance(v, np.ndarray) for v in table.values())
    np.testing.assert_allclose(ours, tree.predict_proba(X_test), atol=1e-12)


def test_table_widens_to_the_global_classes() -> None:
    # Prepare: a host that never saw class 1 of 3
    X = np.array([[0.0], [1.0], [2.0], [3.0]])
    y = np.array([0, 0, 2, 2])
    # Execute
    table = tree_to_table(DecisionTreeClassifier().fit(X, y), n_classes=3)
    # Assert
    np.testing.assert_allclose(tree_predict_proba(table, np.array([[0.5], [2.5]])), [[1, 0, 0], [0, 0, 1]])


def test_check_table_names_the_source_of_a_bad_table() -> None:
    # Prepare
    table = tree_to_table(DecisionTreeClassifier(max_depth=2).fit(*_data_with_nan()), n_classes=3)
    looping = {k: v.copy() for k, v in table.items()}
    looping["children_left"][0] = 0
    # Execute / Assert
    with pytest.raises(ValueError, match="client 'h1' tree 0: child indices"):
        check_table(looping, 4, 3, source="client 'h1' tree 0")
    with pytest.raises(ValueError, match="value has shape"):
        check_table(table, 4, 2)
    with pytest.raises(ValueError, match="fields"):
        check_table({"value": table["value"]}, 4, 3)


def test_grown_forest_matches_sklearn_forest_accuracy() -> None:
    # Prepare
    X, y = load_breast_cancer(return_X_y=True)
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.2, stratify=y, random_state=0)
    central = RandomForestClassifier(n_estimators=50, random_state=0).fit(X_tr, y_tr).score(X_te, y_te)
    # Execute
    forest = grow_trees(X_tr, y_tr, n_classes=2, n_trees=50, rng=np.random.default_rng(0), class_weight="balanced")
    accuracy = float(np.mean(forest_predict_proba(forest, X_te, 2).argmax(axis=1) == y_te))
    # Assert
    assert accuracy >= central - 0.02


def test_selection_is_proportional_to_sample_counts_and_capped() -> None:
    # Prepare: host a has 3x the records of host b; both send 10 trees
    X, y = _data_with_nan()
    small = grow_trees(X, y, n_classes=3, n_trees=10, rng=np.random.default_rng(0), max_depth=1)
    big = grow_trees(X, y, n_classes=3, n_trees=10, rng=np.random.default_rng(1), max_depth=1)
    big_ids = {id(t) for t in big}
    rng = np.random.default_rng(0)
    # Execute
    picks = [select_trees([], [(big, 300), (small, 100)], n_estimators=50, rng=rng, per_round=4) for _ in range(500)]
    capped = select_trees(big[:8], [(small, 100)], n_estimators=10, rng=rng, per_round=4)
    # Assert
    share_big = np.mean([sum(id(t) in big_ids for t in p) / 4 for p in picks])
    assert share_big == pytest.approx(0.75, abs=0.04)  # without replacement pulls it a little towards 0.5
    assert all(len({id(t) for t in p}) == 4 for p in picks)
    assert len(capped) == 10 and capped[:6] == big[2:8]  # the newest ten are kept


def test_selection_is_reproducible_with_the_seed() -> None:
    # Prepare
    X, y = _data_with_nan()
    trees = grow_trees(X, y, n_classes=3, n_trees=6, rng=np.random.default_rng(0), max_depth=1)
    # Execute
    a = select_trees([], [(trees[:3], 10), (trees[3:], 20)], n_estimators=9, rng=np.random.default_rng(5))
    b = select_trees([], [(trees[:3], 10), (trees[3:], 20)], n_estimators=9, rng=np.random.default_rng(5))
    # Assert
    assert [id(t) for t in a] == [id(t) for t in b] and len(a) == 3


def test_federated_forest_is_within_two_points_of_central_on_breast_cancer() -> None:
    # Prepare
    X, y = load_breast_cancer(return_X_y=True)
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.2, stratify=y, random_state=0)
    central = RandomForestClassifier(n_estimators=50, random_state=0).fit(X_tr, y_tr).score(X_te, y_te)
    parts = partition_iid(len(y_tr), 3, 0)
    clients = [build_ensemble("random_forest", 30, 2, n_estimators=50, trees_per_round=5) for _ in parts]
    server = build_ensemble("random_forest", 30, 2, n_estimators=50, trees_per_round=5)
    aggregator, forest = server.aggregator(), None
    rngs = [np.random.default_rng([0, i]) for i in range(3)]
    # Execute
    for rnd in range(1, 11):
        results = [EnsembleFitResult(f"h{i}", c.fit_round(forest, X_tr[p], y_tr[p], server_round=rnd, rng=rngs[i]), len(p))
                   for i, (c, p) in enumerate(zip(clients, parts))]
        forest = aggregator.aggregate(rnd, forest, results)
    server.set_payload(forest)
    accuracy = float(np.mean(server.predict(X_te) == y_te))
    # Assert
    assert len(forest) == 50
    assert accuracy >= 0.93 and accuracy >= central - 0.02, (accuracy, central)


def test_options_are_checked() -> None:
    # Prepare / Execute / Assert
    with pytest.raises(ValueError, match="class_weight"):
        build_ensemble("random_forest", 3, 2, class_weight="weird")
    with pytest.raises(ValueError, match="trees_per_round"):
        build_ensemble("random_forest", 3, 2, trees_per_round=0)
    with pytest.raises(ValueError, match="unknown ensemble 'nope'"):
        build_ensemble("nope", 3, 2)


def test_weighted_forest_votes_with_each_trees_validation_accuracy() -> None:
    # Prepare: one tree that is always right on the validation split, one always wrong
    X = np.array([[0.0], [1.0], [2.0], [3.0]])
    right = tree_to_table(DecisionTreeClassifier().fit(X, [0, 0, 1, 1]), n_classes=2)
    wrong = tree_to_table(DecisionTreeClassifier().fit(X, [1, 1, 0, 0]), n_classes=2)
    X_val, y_val = np.array([[0.5], [2.5], [3.0]]), np.array([0, 1, 1])
    # Execute
    weighed = weigh_by_accuracy([right, wrong], X_val, y_val)
    proba = forest_predict_proba(weighed, X_val, 2)
    # Assert
    assert [float(t[WEIGHT_FIELD]) for t in weighed] == [1.0, 0.0]
    np.testing.assert_allclose(proba, tree_predict_proba(right, X_val))  # the wrong tree has no say
    np.testing.assert_allclose(forest_predict_proba([right, wrong], X_val, 2), 0.5)  # unweighted: a tie
    assert check_table(weighed[0], n_features=1, n_classes=2) is weighed[0]


def test_a_tree_weight_must_be_one_finite_non_negative_number() -> None:
    # Prepare
    X, y = _data_with_nan()
    table = grow_trees(X, y, n_classes=3, n_trees=1, rng=np.random.default_rng(0), max_depth=2)[0]
    # Execute / Assert
    for bad in (np.float64(-1.0), np.float64(np.nan), np.array([0.5, 0.5])):
        with pytest.raises(ValueError, match="weight"):
            check_table({**table, WEIGHT_FIELD: bad}, n_features=4, n_classes=3, source="client 'h1' tree 0")


def test_weighted_forest_client_sends_weighed_trees_and_trains_as_well_as_central() -> None:
    # Prepare
    X, y = load_breast_cancer(return_X_y=True)
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.2, stratify=y, random_state=0)
    central = RandomForestClassifier(n_estimators=50, random_state=0).fit(X_tr, y_tr).score(X_te, y_te)
    parts = partition_iid(len(y_tr), 3, 0)
    splits = [(p[len(p) // 5:], p[:len(p) // 5]) for p in parts]  # (train, validation) per host
    clients = [build_ensemble("weighted_random_forest", 30, 2, n_estimators=50, trees_per_round=5) for _ in parts]
    server = build_ensemble("weighted_random_forest", 30, 2, n_estimators=50, trees_per_round=5)
    aggregator, forest = server.aggregator(), None
    rngs = [np.random.default_rng([0, i]) for i in range(3)]
    # Execute
    for rnd in range(1, 11):
        results = [EnsembleFitResult(f"h{i}", c.fit_round(forest, X_tr[t], y_tr[t], server_round=rnd, rng=rngs[i],
                                                          validation=(X_tr[v], y_tr[v])), len(t))
                   for i, (c, (t, v)) in enumerate(zip(clients, splits))]
        forest = aggregator.aggregate(rnd, forest, results)
    server.set_payload(forest)
    accuracy = float(np.mean(server.predict(X_te) == y_te))
    # Assert
    assert len(forest) == 50 and all(0.5 < float(t[WEIGHT_FIELD]) <= 1.0 for t in forest)
    assert accuracy >= 0.93 and accuracy >= central - 0.02, (accuracy, central)
