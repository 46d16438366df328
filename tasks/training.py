"""Local training, evaluation and federated feature standardisation, in NumPy only.

One SGD loop serves FedAvg, FedProx and SCAFFOLD: the strategies differ only in
the extra term added to every gradient step (a proximal pull towards the
global weights, or a control-variate correction), so the client role calls
`local_train` with different keyword arguments rather than different loops.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from tasks.models.base import Model, Weights


@dataclass
class TrainResult:
    """What strategies need back from a client besides the new weights.

    `loss_before` is the data loss at the starting (global) weights, which
    q-FFL uses; `steps` is the number of SGD steps, which SCAFFOLD uses to
    update its control variates. Losses exclude the proximal term.
    """

    num_examples: int
    steps: int
    loss_before: float
    loss_after: float


def _check_like(name: str, weights: Weights, reference: Weights) -> Weights:
    """Return float64 copies of `weights` after checking they match `reference` in count and shape."""
    if len(weights) != len(reference):
        raise ValueError(f"{name} has {len(weights)} arrays, the model has {len(reference)}")
    out: Weights = []
    for i, (w, r) in enumerate(zip(weights, reference)):
        arr = np.asarray(w, dtype=np.float64)
        if arr.shape != r.shape:
            raise ValueError(f"{name}[{i}] has shape {arr.shape}, the model's weight has shape {r.shape}")
        out.append(arr)
    return out


def local_train(
    model: Model,
    X: np.ndarray,
    y: np.ndarray,
    *,
    epochs: int,
    batch_size: int | None,
    learning_rate: float,
    rng: np.random.Generator,
    proximal_mu: float = 0.0,
    global_weights: Weights | None = None,
    correction: Weights | None = None,
) -> TrainResult:
    """Run mini-batch SGD on `model` in place, starting from its current weights.

    Each step uses `g = grad(batch) + mu * (w - global_weights) + correction`
    (FedProx when `proximal_mu > 0`, SCAFFOLD when `correction` = c - c_i).
    `batch_size=None` (or >= n) is full-batch gradient descent; otherwise the
    data are reshuffled with `rng` every epoch and the last, smaller batch is
    kept, so `steps == epochs * ceil(n / batch_size)`. Note plain SGD on the
    proximal term is only stable when `learning_rate * proximal_mu < 2`.
    """
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y)
    n = X.shape[0] if X.ndim >= 1 else 0
    if X.ndim != 2 or y.shape != (n,):
        raise ValueError(f"X must be 2-D and y 1-D of the same length, got {X.shape} and {y.shape}")
    if n == 0:
        raise ValueError("cannot train on an empty dataset")
    if int(epochs) != epochs or epochs < 0:
        raise ValueError(f"epochs must be an integer >= 0, got {epochs!r}")
    if batch_size is not None and (int(batch_size) != batch_size or batch_size < 1):
        raise ValueError(f"batch_size must be None or an integer >= 1, got {batch_size!r}")
    if not np.isfinite(learning_rate) or learning_rate <= 0:
        raise ValueError(f"learning_rate must be a finite number > 0, got {learning_rate!r}")
    if not np.isfinite(proximal_mu) or proximal_mu < 0:
        raise ValueError(f"proximal_mu must be a finite number >= 0, got {proximal_mu!r}")

    w = model.get_weights()
    anchor: Weights | None = None
    if proximal_mu > 0:
        if global_weights is None:
            raise ValueError("proximal_mu > 0 (FedProx) needs global_weights")
        anchor = _check_like("global_weights", global_weights, w)
    corr = _check_like("correction", correction, w) if correction is not None else None

    loss_before = float(model.loss(X, y))
    full_batch = batch_size is None or batch_size >= n
    bs = n if full_batch else int(batch_size)  # type: ignore[arg-type]
    steps = 0
    for _ in range(int(epochs)):
        order = None if full_batch else rng.permutation(n)
        for start in range(0, n, bs):
            if order is None:
                Xb, yb = X, y
            else:
                idx = order[start : start + bs]
                Xb, yb = X[idx], y[idx]
            g = model.grad(Xb, yb)
            for i in range(len(w)):
                gi = g[i]
                if anchor is not None:
                    gi = gi + proximal_mu * (w[i] - anchor[i])
                if corr is not None:
                    gi = gi + corr[i]
                w[i] = w[i] - learning_rate * gi
            model.set_weights(w)
            steps += 1

    loss_after = float(model.loss(X, y)) if steps else loss_before
    return TrainResult(num_examples=n, steps=steps, loss_before=loss_before, loss_after=loss_after)


def evaluate(model: Model, X: np.ndarray, y: np.ndarray) -> dict[str, float]:
    """Loss, accuracy and example count, so the server can weight metrics by size."""
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y)
    if X.ndim != 2 or X.shape[0] == 0:
        raise ValueError(f"cannot evaluate on X of shape {X.shape}")
    loss = float(model.loss(X, y))
    accuracy = float(np.mean(model.predict(X) == y))
    return {"loss": loss, "accuracy": accuracy, "num_examples": int(X.shape[0])}


def standardize(X: np.ndarray, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    """Return `(X - mean) / std` with zero std treated as 1, so constant features become 0 not NaN."""
    X = np.asarray(X, dtype=np.float64)
    mean = np.asarray(mean, dtype=np.float64)
    std = np.asarray(std, dtype=np.float64)
    if X.ndim != 2 or mean.shape != (X.shape[1],) or std.shape != (X.shape[1],):
        raise ValueError(
            f"X must be (n, d) with mean and std of shape (d,), got {X.shape}, {mean.shape}, {std.shape}"
        )
    safe = np.where(std == 0.0, 1.0, std)
    return (X - mean) / safe


def feature_sums(X: np.ndarray) -> dict[str, Any]:
    """Per-feature count, sum and sum of squares: all a host must reveal for pooled standardisation."""
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2:
        raise ValueError(f"X must be 2-D, got shape {X.shape}")
    return {"n": int(X.shape[0]), "sum": X.sum(axis=0), "sumsq": np.square(X).sum(axis=0)}


def combine_feature_sums(sums: list[dict[str, Any]]) -> tuple[np.ndarray, np.ndarray]:
    """Exact pooled mean and population std (ddof=0) from per-host `feature_sums`.

    A variance below 1e-12 of the mean square is cancellation noise of the
    sumsq/n - mean^2 formula (e.g. a constant feature) and is returned as 0,
    so `standardize` maps that feature to 0 instead of amplifying noise.
    """
    if not sums:
        raise ValueError("combine_feature_sums needs at least one shard")
    n = 0
    total: np.ndarray | None = None
    total_sq: np.ndarray | None = None
    for i, s in enumerate(sums):
        s_sum = np.asarray(s["sum"], dtype=np.float64)
        s_sq = np.asarray(s["sumsq"], dtype=np.float64)
        if s_sum.ndim != 1 or s_sq.shape != s_sum.shape:
            raise ValueError(f"shard {i}: sum and sumsq must be 1-D of equal shape, got {s_sum.shape}, {s_sq.shape}")
        if total is not None and s_sum.shape != total.shape:
            raise ValueError(f"shard {i} has {s_sum.shape[0]} features, earlier shards have {total.shape[0]}")
        if int(s["n"]) < 0:
            raise ValueError(f"shard {i} has negative n={s['n']!r}")
        n += int(s["n"])
        total = s_sum if total is None else total + s_sum
        total_sq = s_sq if total_sq is None else total_sq + s_sq
    assert total is not None and total_sq is not None
    if n == 0:
        raise ValueError("combine_feature_sums: all shards are empty")
    mean = total / n
    mean_sq = total_sq / n
    var = mean_sq - mean**2
    var = np.where(var <= 1e-12 * mean_sq, 0.0, var)
    return mean, np.sqrt(var)
