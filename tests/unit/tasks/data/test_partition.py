"""IID and Dirichlet partitions of record indices over hosts."""

from __future__ import annotations

import numpy as np
import pytest

from tasks.data.partition import partition_dirichlet, partition_iid


def _mean_max_class_share(y: np.ndarray, parts: list[np.ndarray]) -> float:
    shares = [np.bincount(y[p]).max() / len(p) for p in parts]
    return float(np.mean(shares))


def test_partition_iid_is_disjoint_covering_and_balanced() -> None:
    # Execute
    parts = partition_iid(103, 4, np.random.default_rng(0))

    # Assert
    assert sorted(len(p) for p in parts) == [25, 26, 26, 26]
    joined = np.concatenate(parts)
    assert np.array_equal(np.sort(joined), np.arange(103))


def test_partition_iid_is_reproducible_from_seed() -> None:
    # Execute
    first = partition_iid(50, 3, np.random.default_rng(7))
    second = partition_iid(50, 3, np.random.default_rng(7))

    # Assert
    assert all(np.array_equal(a, b) for a, b in zip(first, second))


def test_partition_dirichlet_is_disjoint_covering_with_min_size() -> None:
    # Prepare
    y = np.repeat(np.arange(10), 100)

    # Execute
    parts = partition_dirichlet(y, 5, 0.5, np.random.default_rng(1), min_size=10)

    # Assert
    assert len(parts) == 5
    assert min(len(p) for p in parts) >= 10
    assert np.array_equal(np.sort(np.concatenate(parts)), np.arange(1000))


def test_partition_dirichlet_low_alpha_gives_more_label_skew() -> None:
    # Prepare
    y = np.repeat(np.arange(10), 100)

    # Execute
    skewed = partition_dirichlet(y, 5, 0.1, np.random.default_rng(3))
    near_iid = partition_dirichlet(y, 5, 100.0, np.random.default_rng(3))

    # Assert: at alpha=100 each part is ~10% one class; at alpha=0.1 a few classes dominate.
    assert _mean_max_class_share(y, near_iid) < 0.2
    assert _mean_max_class_share(y, skewed) > 0.3
    assert _mean_max_class_share(y, skewed) > _mean_max_class_share(y, near_iid) + 0.15


@pytest.mark.parametrize("alpha", [0.0, -1.0, float("nan")])
def test_partition_dirichlet_rejects_non_positive_alpha(alpha: float) -> None:
    # Execute / Assert
    with pytest.raises(ValueError, match="alpha"):
        partition_dirichlet(np.zeros(100, dtype=int), 2, alpha, np.random.default_rng(0))


def test_partition_dirichlet_rejects_impossible_min_size() -> None:
    # Execute / Assert
    with pytest.raises(ValueError, match="at least 10"):
        partition_dirichlet(np.zeros(25, dtype=int), 3, 1.0, np.random.default_rng(0), min_size=10)
