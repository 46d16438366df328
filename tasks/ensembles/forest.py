"""Federated random forest: clients grow trees, the server keeps a sample-weighted forest.

Each round every selected client grows `trees_per_round` trees on its own records, each
on a bootstrap sample with `max_features` candidates per split, exactly as a tree of
Breiman's random forest (2001, Machine Learning 45:5-32) and scikit-learn's
`RandomForestClassifier` does (bootstrap counts as sample weights; `class_weight`
applied to them). The server then draws this round's trees from all the clients' trees
with probability proportional to each client's sample count (each of a client's trees gets
`n_client / trees_sent`), without replacement, appends them to the global forest and
keeps the newest `n_estimators`: the default aggregation of the real flcore's random
forest (trees chosen "according to a probability distribution" of centre sizes), with a
seeded rng.

Trees travel as their node tables (`children_left`, `children_right`, `feature`,
`threshold`, `missing_go_to_left`, `value`), plain NumPy arrays, never pickles;
`tree_predict_proba` walks those tables without any scikit-learn object and gives the
same probabilities as `DecisionTreeClassifier.predict_proba`.

`weighted_random_forest` is the same forest with each tree's vote weighted by its
accuracy on its client's validation split (the real flcore's weighted random forest): the
client scores every tree it grew on records the tree never trained on and sends the score
with the tree (an optional `weight` entry of its table); the server selects trees as above
and the soft vote becomes a weighted mean.

Missing values are taken natively: scikit-learn's trees (>= 1.3) learn at each split where
NaN goes (`missing_go_to_left`; a split that saw no NaN in training sends it to the child
with more samples), and the node tables carry that, so hosts need not impute for a forest.
"""

from __future__ import annotations

from typing import ClassVar, Literal

import numpy as np
from sklearn.tree import DecisionTreeClassifier
from sklearn.utils.class_weight import compute_sample_weight

from tasks.ensembles.base import EnsembleAggregator, EnsembleFitResult, check_results
from tasks.models.base import check_X, check_dimensions

TreeTable = dict[str, np.ndarray]
TREE_FIELDS: tuple[str, ...] = (
    "children_left", "children_right", "feature", "threshold", "missing_go_to_left", "value",
)
WEIGHT_FIELD = "weight"
"""Optional entry of a tree table: the tree's vote weight (a weighted forest's trees carry it)."""
LEAF = -1

ClassWeight = Literal["balanced"] | None
MaxFeatures = Literal["sqrt", "log2"] | float | None


def tree_to_table(tree: DecisionTreeClassifier, n_classes: int) -> TreeTable:
    """A fitted tree's node table, with leaf class fractions widened to all `n_classes` columns.

    A host that lacks some class grows trees over fewer classes; the global columns keep
    every table the same width.
    """
    inner = tree.tree_
    if inner.n_outputs != 1:
        raise ValueError("only single-output trees are supported")
    classes = np.asarray(tree.classes_).astype(np.int64)
    if classes.min() < 0 or classes.max() >= n_classes:
        raise ValueError(f"tree classes {classes.tolist()} are not within 0..{n_classes - 1}")
    value = np.zeros((inner.node_count, n_classes), dtype=np.float64)
    value[:, classes] = inner.value[:, 0, :]
    totals = value.sum(axis=1, keepdims=True)
    value = np.divide(value, totals, out=np.zeros_like(value), where=totals > 0)
    return {
        "children_left": inner.children_left.astype(np.int32),
        "children_right": inner.children_right.astype(np.int32),
        "feature": inner.feature.astype(np.int32),
        "threshold": inner.threshold.astype(np.float64),
        "missing_go_to_left": inner.missing_go_to_left.astype(bool),
        "value": value,
    }


def check_table(table: TreeTable, n_features: int, n_classes: int, *, source: str = "tree") -> TreeTable:
    """Validate a node table that arrived from another host; raise ValueError naming `source`."""
    if not isinstance(table, dict) or set(table) - {WEIGHT_FIELD} != set(TREE_FIELDS):
        got = sorted(table) if isinstance(table, dict) else type(table).__name__
        raise ValueError(f"{source}: a tree table has the fields {list(TREE_FIELDS)} (and optionally "
                         f"{WEIGHT_FIELD!r}), got {got}")
    if WEIGHT_FIELD in table:
        weight = np.asarray(table[WEIGHT_FIELD], dtype=np.float64)
        if weight.shape != () or not np.isfinite(weight) or weight < 0:
            raise ValueError(f"{source}: {WEIGHT_FIELD} must be one finite number >= 0, got {table[WEIGHT_FIELD]!r}")
    left, right = np.asarray(table["children_left"]), np.asarray(table["children_right"])
    m = left.shape[0]
    if m < 1 or left.ndim != 1:
        raise ValueError(f"{source}: a tree needs at least one node")
    for key in ("children_right", "feature", "threshold", "missing_go_to_left"):
        if np.shape(table[key]) != (m,):
            raise ValueError(f"{source}: {key} has shape {np.shape(table[key])}, expected ({m},)")
    if np.shape(table["value"]) != (m, n_classes):
        raise ValueError(f"{source}: value has shape {np.shape(table['value'])}, expected ({m}, {n_classes})")
    inner = left != LEAF
    if np.any(inner != (right != LEAF)):
        raise ValueError(f"{source}: a node has exactly one child")
    nodes = np.arange(m)
    if np.any(left[inner] <= nodes[inner]) or np.any(right[inner] <= nodes[inner]) or np.any(left[inner] >= m) \
            or np.any(right[inner] >= m):
        raise ValueError(f"{source}: child indices must point forward within the table")
    feature = np.asarray(table["feature"])
    if np.any((feature[inner] < 0) | (feature[inner] >= n_features)):
        raise ValueError(f"{source}: split features must be within 0..{n_features - 1}")
    return table


def tree_predict_proba(table: TreeTable, X: np.ndarray) -> np.ndarray:
    """Class fractions of the leaf each record reaches; NaN follows `missing_go_to_left`.

    X is rounded to float32 first, as scikit-learn's trees compare float32 inputs with their
    float64 thresholds, so the same records take the same branches.
    """
    X = np.asarray(X, dtype=np.float32).astype(np.float64)
    left, right = table["children_left"], table["children_right"]
    feature, threshold, nan_left = table["feature"], table["threshold"], table["missing_go_to_left"]
    node = np.zeros(X.shape[0], dtype=np.int64)
    rows = np.arange(X.shape[0])
    active = left[node] != LEAF
    while active.any():
        at = node[active]
        x = X[rows[active], feature[at]]
        go_left = np.where(np.isnan(x), nan_left[at], x <= threshold[at])
        node[active] = np.where(go_left, left[at], right[at])
        active = left[node] != LEAF
    return table["value"][node]


def tree_weight(table: TreeTable) -> float:
    """A tree's vote weight: its `weight` entry, 1 for a plain forest's tree."""
    return float(table.get(WEIGHT_FIELD, 1.0))


def forest_predict_proba(forest: list[TreeTable], X: np.ndarray, n_classes: int) -> np.ndarray:
    """Weighted mean of the trees' class fractions (scikit-learn's soft vote when no tree carries a
    weight); uniform for an empty forest or one whose weights are all zero."""
    X = np.asarray(X, dtype=np.float64)
    weights = [tree_weight(table) for table in forest]
    if not forest or sum(weights) <= 0:
        return np.full((X.shape[0], n_classes), 1.0 / n_classes)
    total = np.zeros((X.shape[0], n_classes))
    for table, weight in zip(forest, weights):
        if weight:
            total += weight * tree_predict_proba(table, X)
    return total / sum(weights)


def weigh_by_accuracy(tables: list[TreeTable], X: np.ndarray, y: np.ndarray) -> list[TreeTable]:
    """Each table with its `weight`: the tree's accuracy on (X, y), a client's validation split.

    With no validation records every tree weighs 1 (nothing to tell them apart)."""
    y = np.asarray(y).astype(np.int64)
    weighed = []
    for table in tables:
        accuracy = float(np.mean(tree_predict_proba(table, X).argmax(axis=1) == y)) if y.size else 1.0
        weighed.append({**table, WEIGHT_FIELD: np.float64(accuracy)})
    return weighed


def grow_trees(
    X: np.ndarray,
    y: np.ndarray,
    *,
    n_classes: int,
    n_trees: int,
    rng: np.random.Generator,
    max_depth: int | None = None,
    class_weight: ClassWeight = None,
    max_features: MaxFeatures = "sqrt",
    bootstrap: bool = True,
) -> list[TreeTable]:
    """Grow `n_trees` random-forest trees on (X, y) and return their node tables.

    As `RandomForestClassifier` does: a bootstrap draw becomes per-record counts used as
    sample weights, multiplied by the `class_weight` weights of the host's full label set.
    """
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y).astype(np.int64)
    if X.ndim != 2 or y.shape != (X.shape[0],) or X.shape[0] == 0:
        raise ValueError(f"X must be (n, d) and y (n,) with n > 0, got {X.shape} and {y.shape}")
    if int(n_trees) != n_trees or n_trees < 1:
        raise ValueError(f"n_trees must be an integer >= 1, got {n_trees!r}")
    if class_weight not in (None, "balanced"):
        raise ValueError(f"class_weight must be None or 'balanced', got {class_weight!r}")
    base = compute_sample_weight(class_weight, y) if class_weight else np.ones(y.shape[0])
    n = X.shape[0]
    tables = []
    for _ in range(int(n_trees)):
        weight = base * (np.bincount(rng.integers(0, n, size=n), minlength=n) if bootstrap else 1.0)
        tree = DecisionTreeClassifier(max_depth=max_depth, max_features=max_features,
                                      random_state=int(rng.integers(2**31 - 1)))
        tree.fit(X, y, sample_weight=weight)
        tables.append(tree_to_table(tree, n_classes))
    return tables


def select_trees(
    forest: list[TreeTable],
    offers: list[tuple[list[TreeTable], int]],
    *,
    n_estimators: int,
    rng: np.random.Generator,
    per_round: int | None = None,
) -> list[TreeTable]:
    """The new global forest: `forest` plus trees drawn from `offers` by sample count.

    `offers` holds (a client's trees, its sample count). `per_round` trees (default: the
    most any client sent) are drawn without replacement, each with probability
    `n_client / trees_sent`, normalised; the forest keeps its newest `n_estimators`.
    """
    if int(n_estimators) != n_estimators or n_estimators < 1:
        raise ValueError(f"n_estimators must be an integer >= 1, got {n_estimators!r}")
    pool: list[TreeTable] = []
    weights: list[float] = []
    for trees, n in offers:
        if n < 0:
            raise ValueError(f"a client reported {n} samples")
        pool.extend(trees)
        weights.extend([n / len(trees)] * len(trees) if trees else [])
    if not pool:
        return list(forest)[-int(n_estimators):]
    p = np.asarray(weights, dtype=np.float64)
    p = p / p.sum() if p.sum() > 0 else np.full(p.size, 1.0 / p.size)
    k = per_round if per_round is not None else max(len(trees) for trees, _ in offers)
    k = min(int(k), int(np.count_nonzero(p)))
    chosen = rng.choice(len(pool), size=k, replace=False, p=p)
    return (list(forest) + [pool[i] for i in chosen])[-int(n_estimators):]


class ForestAggregator(EnsembleAggregator):
    """Server half of the random forest: sample-weighted selection of the clients' trees."""

    name: ClassVar[str] = "random_forest"

    def __init__(self, *, n_features: int, n_classes: int, n_estimators: int = 100,
                 per_round: int | None = None, seed: int = 0) -> None:
        self.n_features, self.n_classes = int(n_features), int(n_classes)
        self.n_estimators = int(n_estimators)
        self.per_round = per_round
        self._rng = np.random.default_rng([seed, 0xF0257])

    def aggregate(self, server_round: int, global_payload: list[TreeTable] | None,
                  results: list[EnsembleFitResult]) -> list[TreeTable]:
        """Validate every client's tables (naming the host), then select by sample count."""
        check_results(results)
        offers = []
        for result in results:
            trees = list(result.payload or [])
            for i, table in enumerate(trees):
                check_table(table, self.n_features, self.n_classes, source=f"client {result.host!r} tree {i}")
            offers.append((trees, result.num_examples))
        return select_trees(list(global_payload or []), offers, n_estimators=self.n_estimators,
                            rng=self._rng, per_round=self.per_round)


class RandomForest:
    """Client half: holds the global forest, grows `trees_per_round` trees a round."""

    name: ClassVar[str] = "random_forest"

    def __init__(
        self,
        n_features: int,
        n_classes: int,
        *,
        n_estimators: int = 100,
        trees_per_round: int = 5,
        max_depth: int | None = 8,
        class_weight: ClassWeight = None,
        max_features: MaxFeatures = "sqrt",
        seed: int = 0,
    ) -> None:
        check_dimensions(n_features, n_classes)
        for label, value in (("n_estimators", n_estimators), ("trees_per_round", trees_per_round)):
            if int(value) != value or value < 1:
                raise ValueError(f"{label} must be an integer >= 1, got {value!r}")
        if max_depth is not None and (int(max_depth) != max_depth or max_depth < 1):
            raise ValueError(f"max_depth must be None or an integer >= 1, got {max_depth!r}")
        if class_weight not in (None, "balanced"):
            raise ValueError(f"class_weight must be None or 'balanced', got {class_weight!r}")
        self.n_features, self.n_classes = int(n_features), int(n_classes)
        self.n_estimators, self.trees_per_round = int(n_estimators), int(trees_per_round)
        self.max_depth, self.class_weight, self.max_features = max_depth, class_weight, max_features
        self.seed = seed
        self._forest: list[TreeTable] = []

    def fit_round(self, global_payload: list[TreeTable] | None, X: np.ndarray, y: np.ndarray, *,
                  server_round: int, rng: np.random.Generator, validation=None) -> list[TreeTable]:
        """New trees on local data; a forest's trees do not depend on the global ones."""
        if global_payload is not None:
            self.set_payload(global_payload)
        return grow_trees(X, y, n_classes=self.n_classes, n_trees=self.trees_per_round, rng=rng,
                          max_depth=self.max_depth, class_weight=self.class_weight, max_features=self.max_features)

    def set_payload(self, payload: list[TreeTable]) -> None:
        """Adopt a global forest after checking every table."""
        forest = list(payload)
        for i, table in enumerate(forest):
            check_table(table, self.n_features, self.n_classes, source=f"global tree {i}")
        self._forest = forest

    def get_payload(self) -> list[TreeTable]:
        """The forest held now (the tables themselves: treat them as read-only)."""
        return list(self._forest)

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Soft vote of the forest's trees."""
        return forest_predict_proba(self._forest, check_X(X, self.n_features), self.n_classes)

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Class with the highest mean fraction."""
        return self.predict_proba(X).argmax(axis=1)

    def aggregator(self) -> ForestAggregator:
        """The server half, with this forest's cap and per-round count."""
        return ForestAggregator(n_features=self.n_features, n_classes=self.n_classes,
                                n_estimators=self.n_estimators, per_round=self.trees_per_round, seed=self.seed)


class WeightedRandomForest(RandomForest):
    """A random forest whose trees vote with their accuracy on their client's validation split."""

    name: ClassVar[str] = "weighted_random_forest"

    def fit_round(self, global_payload: list[TreeTable] | None, X: np.ndarray, y: np.ndarray, *,
                  server_round: int, rng: np.random.Generator, validation=None) -> list[TreeTable]:
        """The round's new trees, each weighed on `validation` (X_val, y_val) before it travels."""
        tables = super().fit_round(global_payload, X, y, server_round=server_round, rng=rng)
        X_val, y_val = validation if validation is not None else (np.empty((0, self.n_features)), np.empty(0))
        return weigh_by_accuracy(tables, X_val, y_val)
