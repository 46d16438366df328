"""Splitting records over hosts: IID for the easy case, Dirichlet label skew for the realistic one.

Both functions return index arrays (sorted, disjoint, together covering `range(n)`), so the
caller decides what to slice; `rng` is a `numpy.random.Generator` (or a seed) for
reproducibility.
"""

from __future__ import annotations

import math

import numpy as np

MAX_DIRICHLET_ATTEMPTS = 1000
"""Resampling budget of partition_dirichlet before it gives up."""


def _check_parts(num_parts: int) -> None:
    if num_parts < 1:
        raise ValueError(f"num_parts must be >= 1, got {num_parts}")


def partition_iid(n: int, num_parts: int, rng: np.random.Generator | int | None) -> list[np.ndarray]:
    """Shuffle `range(n)` and cut it into `num_parts` parts whose sizes differ by at most 1."""
    _check_parts(num_parts)
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    gen = np.random.default_rng(rng)
    order = gen.permutation(n)
    return [np.sort(part).astype(np.int64) for part in np.array_split(order, num_parts)]


def partition_dirichlet(
    y: np.ndarray,
    num_parts: int,
    alpha: float,
    rng: np.random.Generator | int | None,
    min_size: int = 10,
) -> list[np.ndarray]:
    """Label-skewed split: per class, shares over parts are drawn from Dir(alpha).

    This is the Dirichlet label skew of Hsu et al. 2019 ("Measuring the Effects of
    Non-Identical Data Distribution", arXiv:1909.06335) in its common per-class form
    (as in FedMA / NIID-Bench): small alpha gives parts dominated by few classes, large
    alpha approaches IID. A part that already holds its fair share (n / num_parts) gets no
    more of the next class, which keeps part sizes from collapsing. The draw is repeated
    until every part has at least `min_size` records.
    """
    _check_parts(num_parts)
    try:
        alpha_value = float(alpha)
    except (TypeError, ValueError):
        alpha_value = math.nan
    if not (math.isfinite(alpha_value) and alpha_value > 0):
        raise ValueError(f"alpha must be a finite number > 0, got alpha={alpha!r}")
    labels = np.asarray(y)
    if labels.ndim != 1:
        raise ValueError(f"y must be one-dimensional, got shape {labels.shape}")
    n = labels.shape[0]
    if min_size < 0:
        raise ValueError(f"min_size must be >= 0, got {min_size}")
    if min_size * num_parts > n:
        raise ValueError(
            f"cannot give {num_parts} parts at least {min_size} records each from {n} records"
        )
    gen = np.random.default_rng(rng)
    classes = np.unique(labels)
    fair_share = n / num_parts
    for _ in range(MAX_DIRICHLET_ATTEMPTS):
        parts: list[list[np.ndarray]] = [[] for _ in range(num_parts)]
        sizes = np.zeros(num_parts, dtype=np.int64)
        for cls in classes:
            idx = np.flatnonzero(labels == cls)
            gen.shuffle(idx)
            shares = gen.dirichlet(np.full(num_parts, alpha_value))
            open_shares = shares * (sizes < fair_share)
            if open_shares.sum() > 0:
                shares = open_shares
            shares = shares / shares.sum()
            cuts = (np.cumsum(shares) * len(idx)).astype(np.int64)[:-1]
            for part, chunk in enumerate(np.split(idx, cuts)):
                parts[part].append(chunk)
                sizes[part] += len(chunk)
        if sizes.min() >= min_size:
            return [np.sort(np.concatenate(p)).astype(np.int64) for p in parts]
    raise ValueError(
        f"no Dirichlet draw with alpha={alpha} gave every one of {num_parts} parts "
        f">= {min_size} records in {MAX_DIRICHLET_ATTEMPTS} attempts; raise alpha or lower min_size"
    )
