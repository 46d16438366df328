"""scikit-learn estimators rebuilt from the federated state, for `mlflow.sklearn`.

Linear models (`logreg`, `elastic_net`, `linear_svm`) hold `[W (d, k), b (k,)]` and
predict the argmax of `X W + b`. scikit-learn's linear classifiers keep `coef_` (k, d) and
`intercept_` (k,), and for two classes one row, the margin of class 1 over class 0; so
`coef_ = W[:, 1] - W[:, 0]` gives the same labels and, for `LogisticRegression`, the same
probabilities (a two-column softmax is the sigmoid of the difference).

Forests are sound to rebuild: a tree's node table (children, feature, threshold,
`missing_go_to_left`, leaf class fractions) is exactly what scikit-learn's own pickle of
`tree_` holds (`Tree.__getstate__`), so `Tree.__setstate__` restores the tree; only the
training statistics (impurity, sample counts) are absent, so `feature_importances_` means
nothing. `RandomForestClassifier.predict_proba` is the plain mean of its trees'
`predict_proba`, which in scikit-learn >= 1.4 return the leaf values unnormalised; a
weighted forest's vote weights `w` are folded into its trees' leaves (scaled by
`w_i * T / sum(w)`), so the forest's mean is fedpe's weighted vote exactly. Its single
trees' `predict_proba` then do not sum to 1; the forest's do. `check_same_predictions`
compares every rebuilt estimator with fedpe's own predictor on synthetic probes before it is
logged, so a scikit-learn that behaves otherwise is caught, not shipped.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.svm import LinearSVC
from sklearn.tree import DecisionTreeClassifier
from sklearn.tree._tree import NODE_DTYPE, Tree

LINEAR_MODELS = ("logreg", "elastic_net", "linear_svm")
FOREST_MODELS = ("random_forest", "weighted_random_forest")


def linear_estimator(name: str, weights: list[np.ndarray], labels: list[Any],
                     options: dict[str, Any] | None = None) -> LogisticRegression | LinearSVC:
    """A fitted `LogisticRegression` (logreg, elastic_net) or `LinearSVC` (linear_svm) from
    the federated `[W, b]`; its hyperparameters only describe the training, they are not used."""
    options = options or {}
    W, b = (np.asarray(w, dtype=np.float64) for w in weights)
    classes = np.asarray(labels)
    if W.ndim != 2 or W.shape[1] != classes.size or b.shape != (classes.size,) or classes.size < 2:
        raise ValueError(f"weights of shapes {W.shape}, {b.shape} do not fit {classes.size} labels")
    if name == "linear_svm":
        estimator = LinearSVC(multi_class=options.get("multiclass", "ovr"))
    elif name == "elastic_net":
        estimator = LogisticRegression(l1_ratio=float(options.get("l1_ratio", 0.5)), solver="saga")
    elif name == "logreg":
        estimator = LogisticRegression()
    else:
        raise ValueError(f"{name!r} is not a linear model ({', '.join(LINEAR_MODELS)})")
    if classes.size == 2:
        estimator.coef_ = (W[:, 1] - W[:, 0])[None, :]
        estimator.intercept_ = np.array([b[1] - b[0]])
    else:
        estimator.coef_, estimator.intercept_ = W.T.copy(), b.copy()
    estimator.classes_ = classes
    estimator.n_features_in_ = W.shape[0]
    estimator.n_iter_ = np.zeros(1, dtype=np.int32)
    return estimator


def _depth(left: np.ndarray, right: np.ndarray) -> int:
    depth = np.zeros(left.size, dtype=np.int64)
    for node in range(left.size):  # children always follow their parent in a node table
        if left[node] >= 0:
            depth[left[node]] = depth[right[node]] = depth[node] + 1
    return int(depth.max())


def tree_estimator(table: dict[str, np.ndarray], n_features: int, n_classes: int,
                   scale: float = 1.0) -> DecisionTreeClassifier:
    """A fitted `DecisionTreeClassifier` over class indices 0..n_classes-1 from a node table."""
    left = np.asarray(table["children_left"], dtype=np.int64)
    nodes = np.zeros(left.size, dtype=NODE_DTYPE)
    nodes["left_child"] = left
    nodes["right_child"] = np.asarray(table["children_right"], dtype=np.int64)
    nodes["feature"] = np.asarray(table["feature"], dtype=np.int64)
    nodes["threshold"] = np.asarray(table["threshold"], dtype=np.float64)
    nodes["n_node_samples"], nodes["weighted_n_node_samples"] = 1, 1.0  # unknown: not in the table
    nodes["missing_go_to_left"] = np.asarray(table["missing_go_to_left"], dtype=np.uint8)
    values = np.asarray(table["value"], dtype=np.float64) * float(scale)
    if values.shape != (left.size, n_classes):
        raise ValueError(f"leaf values of shape {values.shape}, expected ({left.size}, {n_classes})")
    inner = Tree(int(n_features), np.array([n_classes], dtype=np.intp), 1)
    inner.__setstate__({"max_depth": _depth(left, nodes["right_child"]), "node_count": int(left.size),
                        "nodes": nodes, "values": np.ascontiguousarray(values[:, None, :])})
    tree = DecisionTreeClassifier()
    tree.tree_ = inner
    tree.n_outputs_, tree.n_classes_ = 1, n_classes
    tree.classes_ = np.arange(n_classes)
    tree.n_features_in_, tree.max_features_ = int(n_features), int(n_features)
    return tree


def forest_estimator(tables: list[dict[str, np.ndarray]], n_features: int, labels: list[Any],
                     options: dict[str, Any] | None = None) -> RandomForestClassifier:
    """A fitted `RandomForestClassifier` whose `estimators_` are the federated trees; tree
    vote weights (a weighted forest's) are folded into the leaves, see the module docstring."""
    options = options or {}
    classes = np.asarray(labels)
    if not tables:
        raise ValueError("an empty forest has no scikit-learn form")
    weights = np.array([float(t.get("weight", 1.0)) for t in tables])
    if weights.sum() <= 0:
        raise ValueError("every tree of the forest weighs 0")
    scales = weights * len(tables) / weights.sum()
    forest = RandomForestClassifier(n_estimators=len(tables), max_depth=options.get("max_depth"),
                                    class_weight=options.get("class_weight"))
    forest.estimator_ = DecisionTreeClassifier()
    forest.estimators_ = [tree_estimator(t, n_features, classes.size, s) for t, s in zip(tables, scales)]
    forest.classes_, forest.n_classes_ = classes, int(classes.size)
    forest.n_outputs_, forest.n_features_in_ = 1, int(n_features)
    return forest


def probes(n_features: int, tables: list[dict[str, np.ndarray]] | None = None, *, rows: int = 256,
           seed: int = 0) -> np.ndarray:
    """Synthetic rows (no record of anyone's): normal draws, or, for trees, values on either side
    of the trees' thresholds with some NaN, so every branch and missing-value route is taken."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(rows, n_features))
    if tables:
        for f in range(n_features):
            cuts = np.concatenate([t["threshold"][t["feature"] == f] for t in tables])
            cuts = cuts[np.isfinite(cuts)]  # a split of missing from present values has threshold inf
            if cuts.size:
                X[:, f] = rng.choice(cuts, rows) + rng.choice([-1e-3, 1e-3], rows)
        X[rng.random(X.shape) < 0.05] = np.nan
    return X


def check_same_predictions(estimator: Any, predictor: Any, X: np.ndarray) -> None:
    """Raise ValueError unless `estimator` scores `X` as fedpe's `predictor` does (label
    indices, and probabilities or margins to 1e-9)."""
    if isinstance(estimator, LinearSVC):
        ours = predictor.decision_function(X)
        theirs = estimator.decision_function(X)
        expected = ours[:, 1] - ours[:, 0] if ours.shape[1] == 2 else ours
    else:
        expected, theirs = predictor.predict_proba(X), estimator.predict_proba(X)
    if not np.allclose(theirs, expected, rtol=0, atol=1e-9):
        raise ValueError(f"{type(estimator).__name__} scores differ from fedpe's by up to "
                         f"{np.nanmax(np.abs(theirs - expected)):.3g}")
    scores = np.column_stack([-expected, expected]) if expected.ndim == 1 else expected
    top = np.sort(scores, axis=1)
    clear = top[:, -1] - top[:, -2] > 1e-9  # a near-tie may go either way in either summation order
    indices = (estimator.classes_[:, None] == estimator.predict(X)[None, :]).argmax(axis=0)
    if not np.array_equal(indices[clear], predictor.predict(X)[clear]):
        raise ValueError(f"{type(estimator).__name__} labels differ from fedpe's")
