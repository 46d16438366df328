"""Pooled metrics from per-host statistics equal scikit-learn's on the pooled records."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import (
    accuracy_score,
    balanced_accuracy_score,
    confusion_matrix,
    f1_score,
    multilabel_confusion_matrix,
    precision_score,
    recall_score,
    roc_auc_score,
)

from tasks.metrics import (
    auc_resolution,
    classification_metrics,
    combine_concordance,
    combine_statistics,
    concordance_statistics,
    histogram_auc,
    host_statistics,
    pooled_and_per_client,
    scores,
)
from tasks.models.cox import concordance_index


def _hosts(k: int, seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    """Three hosts of different sizes with informative, imperfect scores."""
    rng = np.random.default_rng(seed)
    out = []
    for n in (120, 60, 200):
        y = rng.integers(0, k, size=n)
        logits = rng.normal(size=(n, k)) + 1.5 * np.eye(k)[y]
        p = np.exp(logits)
        out.append((y, p / p.sum(axis=1, keepdims=True)))
    return out


@pytest.mark.parametrize("k", [2, 4])
def test_pooled_counts_metrics_equal_sklearn_on_pooled_data(k: int) -> None:
    # Prepare
    hosts = _hosts(k)
    y = np.concatenate([h[0] for h in hosts])
    p = np.concatenate([h[1] for h in hosts])
    pred = p.argmax(axis=1)
    average = "binary" if k == 2 else "macro"
    # Execute
    pooled = scores(combine_statistics([host_statistics(yh, ph, k) for yh, ph in hosts]))
    # Assert
    assert pooled["n"] == len(y)
    assert pooled["confusion_matrix"] == confusion_matrix(y, pred).tolist()
    assert pooled["accuracy"] == pytest.approx(accuracy_score(y, pred), abs=1e-12)
    assert pooled["balanced_accuracy"] == pytest.approx(balanced_accuracy_score(y, pred), abs=1e-12)
    assert pooled["precision"] == pytest.approx(precision_score(y, pred, average=average), abs=1e-12)
    assert pooled["recall"] == pytest.approx(recall_score(y, pred, average=average), abs=1e-12)
    assert pooled["f1"] == pytest.approx(f1_score(y, pred, average=average), abs=1e-12)
    mcm = multilabel_confusion_matrix(y, pred)
    spec = mcm[:, 0, 0] / (mcm[:, 0, 0] + mcm[:, 0, 1])
    assert pooled["specificity"] == pytest.approx(spec[1] if k == 2 else spec.mean(), abs=1e-12)


@pytest.mark.parametrize("k", [2, 4])
def test_pooled_auc_is_within_the_histogram_resolution_of_sklearn(k: int) -> None:
    # Prepare
    hosts = _hosts(k, seed=1)
    y = np.concatenate([h[0] for h in hosts])
    p = np.concatenate([h[1] for h in hosts])
    exact = roc_auc_score(y, p[:, 1]) if k == 2 else roc_auc_score(y, p, multi_class="ovr")
    # Execute
    pooled = combine_statistics([host_statistics(yh, ph, k) for yh, ph in hosts])
    auc = scores(pooled)["roc_auc"]
    bound = max(auc_resolution(pooled["positive"][c], pooled["negative"][c]) for c in range(k))
    # Assert: 1000 bins; the stated tolerance is 0.005, and the bound is what we can prove
    assert abs(auc - exact) <= bound + 1e-12
    assert abs(auc - exact) <= 0.005


def test_histogram_auc_by_hand() -> None:
    # Prepare: positives in bins 2 and 1, negatives in bins 0 and 1
    pos = np.array([0, 1, 1])
    neg = np.array([1, 1, 0])
    # Execute / Assert: pairs (2>0), (2>1), (1>0), (1 tie 1) -> 3.5 / 4
    assert histogram_auc(pos, neg) == pytest.approx(0.875)
    assert auc_resolution(pos, neg) == pytest.approx(0.125)
    assert np.isnan(histogram_auc(pos, np.zeros(3)))


def test_per_client_rows_are_each_hosts_own_metrics() -> None:
    # Prepare
    hosts = _hosts(3)
    stats = {f"h{i}": host_statistics(y, p, 3) for i, (y, p) in enumerate(hosts)}
    # Execute
    pooled, per_client = pooled_and_per_client(stats)
    # Assert
    assert list(per_client) == ["h0", "h1", "h2"]
    y1, p1 = hosts[1]
    assert per_client["h1"]["accuracy"] == pytest.approx(accuracy_score(y1, p1.argmax(axis=1)))
    assert per_client["h1"] == classification_metrics(y1, p1, 3)
    assert pooled["n"] == sum(len(y) for y, _ in hosts)


@pytest.mark.filterwarnings("ignore:y_pred contains classes not in y_true")
def test_absent_classes_follow_sklearn_label_rules() -> None:
    # Prepare: class 2 never true, predicted once; class 1 never predicted
    y = np.array([0, 0, 1, 1])
    p = np.array([[0.9, 0.05, 0.05], [0.2, 0.1, 0.7], [0.6, 0.3, 0.1], [0.8, 0.1, 0.1]])
    pred = p.argmax(axis=1)
    # Execute
    result = classification_metrics(y, p, 3)
    # Assert
    assert result["precision"] == pytest.approx(precision_score(y, pred, average="macro", zero_division=0))
    assert result["balanced_accuracy"] == pytest.approx(balanced_accuracy_score(y, pred))
    assert np.isfinite(result["roc_auc"])  # classes 0 and 1 have both positives and negatives


def test_bad_inputs_are_named() -> None:
    # Prepare / Execute / Assert
    with pytest.raises(ValueError, match="proba must have shape"):
        host_statistics(np.array([0, 1]), np.ones((2, 3)) / 3, 2)
    with pytest.raises(ValueError, match="class indices"):
        host_statistics(np.array([0, 5]), np.full((2, 2), 0.5), 2)
    with pytest.raises(ValueError, match="confusion has shape"):
        combine_statistics([host_statistics(np.array([0]), np.array([[1.0, 0.0]]), 2),
                            host_statistics(np.array([0]), np.array([[1.0, 0.0, 0.0]]), 3)])


def test_concordance_per_host_and_sample_weighted() -> None:
    # Prepare
    rng = np.random.default_rng(0)
    parts = []
    for n in (50, 150):
        t = rng.exponential(size=n)
        parts.append((t, rng.random(n) < 0.7, -t + rng.normal(scale=0.5, size=n)))
    # Execute
    stats = [concordance_statistics(*part) for part in parts]
    pooled = combine_concordance(stats)
    # Assert
    cs = [concordance_index(*part) for part in parts]
    assert stats[0]["concordance"] == pytest.approx(cs[0])
    assert pooled["concordance"] == pytest.approx((50 * cs[0] + 150 * cs[1]) / 200)
    assert pooled["concordance_pairs"] == pytest.approx(
        (stats[0]["concordant"] + stats[1]["concordant"]) / (stats[0]["comparable"] + stats[1]["comparable"]))
    assert pooled["n"] == 200
