"""Aggregation rules as plain functions over lists of per-client weights.

Papers implemented here:

* `weighted_average` — FedAvg, McMahan, Moore, Ramage, Hampson, Agüera y Arcas
  (2017), "Communication-Efficient Learning of Deep Networks from Decentralized
  Data", arXiv:1602.05629.
* `aggregate_median` and `aggregate_trimmed_mean` — Yin, Chen, Ramchandran,
  Bartlett (2018), "Byzantine-Robust Distributed Learning: Towards Optimal
  Statistical Rates", arXiv:1803.01498.
* `aggregate_krum` (Krum and Multi-Krum) — Blanchard, El Mhamdi, Guerraoui,
  Stainer (2017), "Machine Learning with Adversaries: Byzantine Tolerant
  Gradient Descent", arXiv:1703.02757.
* `aggregate_bulyan` — El Mhamdi, Guerraoui, Rouault (2018), "The Hidden
  Vulnerability of Distributed Learning in Byzantium", arXiv:1802.07927.
* `aggregate_qffl` — Li, Sanjabi, Beirami, Smith (2020), "Fair Resource
  Allocation in Federated Learning" (q-FFL / q-FedAvg), arXiv:1905.10497.

Every function takes `Sequence[Weights]` (one list of arrays per client),
computes in float64 and returns float64 arrays; strategies cast back to the
model's dtype. The robust rules are deliberately *unweighted*: sample counts
are self-reported, so weighting by them would let one Byzantine client buy
unlimited influence by claiming a huge dataset.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from tasks.strategies.base import Weights


def _check_nonempty(weights: Sequence[Weights]) -> int:
    if len(weights) == 0:
        raise ValueError("no client weights to aggregate")
    layers = len(weights[0])
    for i, client in enumerate(weights):
        if len(client) != layers:
            raise ValueError(
                f"client {i} has {len(client)} arrays, client 0 has {layers}"
            )
    return layers


def _stack_layer(weights: Sequence[Weights], layer: int) -> np.ndarray:
    """Stack one layer across clients so rules can work along axis 0."""
    return np.stack([np.asarray(client[layer], dtype=np.float64) for client in weights])


def weighted_average(weights: Sequence[Weights], sample_counts: Sequence[float]) -> Weights:
    """Average weighted by each client's example count (FedAvg).

    Weighting by data size makes the average an unbiased estimate of the
    model trained on the union of the clients' data.
    """
    layers = _check_nonempty(weights)
    if len(sample_counts) != len(weights):
        raise ValueError(
            f"{len(weights)} clients but {len(sample_counts)} sample counts"
        )
    counts = np.asarray(sample_counts, dtype=np.float64)
    if np.any(counts < 0):
        raise ValueError("sample counts must be >= 0")
    total = counts.sum()
    if total <= 0:
        raise ValueError("sample counts sum to 0; nothing to weight by")
    share = counts / total
    return [np.tensordot(share, _stack_layer(weights, i), axes=1) for i in range(layers)]


def average(weights: Sequence[Weights]) -> Weights:
    """Unweighted mean, for rules whose analysis treats every client alike."""
    return weighted_average(weights, [1.0] * len(weights))


def aggregate_median(weights: Sequence[Weights]) -> Weights:
    """Coordinate-wise median: a single outlier cannot move any coordinate far."""
    layers = _check_nonempty(weights)
    return [np.median(_stack_layer(weights, i), axis=0) for i in range(layers)]


def aggregate_trimmed_mean(weights: Sequence[Weights], beta: float) -> Weights:
    """Coordinate-wise mean after cutting `floor(beta*n)` values from each end.

    Cutting a fixed fraction from *both* ends bounds the influence of up to
    that fraction of corrupted clients while keeping more of the honest data
    than the median does.
    """
    layers = _check_nonempty(weights)
    n = len(weights)
    if not 0 <= beta < 0.5:
        raise ValueError(f"beta must be in [0, 0.5), got {beta}")
    cut = int(np.floor(beta * n))
    # beta < 0.5 guarantees n - 2*cut >= 1.
    out: Weights = []
    for i in range(layers):
        ordered = np.sort(_stack_layer(weights, i), axis=0)
        out.append(ordered[cut : n - cut].mean(axis=0))
    return out


def flatten(weights: Weights) -> np.ndarray:
    """One vector per client: Krum's distances are over the whole model."""
    if not weights:
        return np.zeros(0)
    return np.concatenate([np.asarray(a, dtype=np.float64).ravel() for a in weights])


def pairwise_squared_distances(weights: Sequence[Weights]) -> np.ndarray:
    """Matrix `D[i, j] = ||w_i - w_j||^2` over all layers jointly."""
    _check_nonempty(weights)
    flat = np.stack([flatten(client) for client in weights])
    diff = flat[:, None, :] - flat[None, :, :]
    return np.einsum("ijk,ijk->ij", diff, diff)


def krum_scores(weights: Sequence[Weights], f: int) -> np.ndarray:
    """Krum score: sum of squared distances to the `n - f - 2` nearest others.

    `n - f - 2` is the paper's choice: an honest client's neighbourhood then
    contains at least `n - 2f - 2 >= 1` honest peers even if all `f`
    Byzantine clients stay away from it. Inside Bulyan's shrinking sets the
    count can fall below 1; it is clamped to `[1, n - 1]` so the score still
    measures closeness to *something* rather than being zero for everyone.
    """
    n = len(weights)
    distances = pairwise_squared_distances(weights)
    if n == 1:
        return np.zeros(1)
    neighbours = min(max(1, n - f - 2), n - 1)
    scores = np.empty(n)
    for i in range(n):
        others = np.delete(distances[i], i)
        scores[i] = np.sort(others)[:neighbours].sum()
    return scores


def krum_select(weights: Sequence[Weights], f: int, m: int = 1) -> list[int]:
    """Indices of the `m` lowest Krum scores; ties go to the lower index."""
    scores = krum_scores(weights, f)
    return [int(i) for i in np.argsort(scores, kind="stable")[:m]]


def aggregate_krum(weights: Sequence[Weights], f: int, m: int = 1) -> Weights:
    """Krum (`m == 1`) or Multi-Krum: mean of the `m` best-scored clients.

    Requires `n >= 2f + 3` (the paper's `2f + 2 < n`); below that the
    neighbourhood of an honest client can be all Byzantine and the guarantee
    is void, so we refuse rather than return something that looks robust.
    The selected models are averaged without sample weights, as in the paper.
    """
    n = len(weights)
    _check_nonempty(weights)
    if f < 0:
        raise ValueError(f"f must be >= 0, got {f}")
    if n < 2 * f + 3:
        raise ValueError(
            f"krum needs at least 2*f+3 = {2 * f + 3} clients for f={f}, got {n}"
        )
    if not 1 <= m <= n:
        raise ValueError(f"m must be between 1 and the {n} clients, got {m}")
    chosen = krum_select(weights, f, m)
    return average([weights[i] for i in chosen])


def aggregate_bulyan(weights: Sequence[Weights], f: int) -> Weights:
    """Bulyan: Krum-select `theta = n - 2f` models, then a tight trimmed mean.

    Krum alone lets an attacker hide a large change in a single coordinate
    (small in L2 overall); the second, coordinate-wise stage keeps only the
    `beta = theta - 2f` values closest to the median per coordinate, which
    bounds every coordinate. Requires `n >= 4f + 3`.
    """
    n = len(weights)
    layers = _check_nonempty(weights)
    if f < 0:
        raise ValueError(f"f must be >= 0, got {f}")
    if n < 4 * f + 3:
        raise ValueError(
            f"bulyan needs at least 4*f+3 = {4 * f + 3} clients for f={f}, got {n}"
        )
    theta = n - 2 * f
    beta = theta - 2 * f
    remaining = list(range(n))
    selected: list[int] = []
    while len(selected) < theta:
        # Krum is re-run on the shrinking set, as in the paper's recursion.
        best = krum_select([weights[i] for i in remaining], f, 1)[0]
        selected.append(remaining.pop(best))
    chosen = [weights[i] for i in selected]
    out: Weights = []
    for i in range(layers):
        stacked = _stack_layer(chosen, i)
        median = np.median(stacked, axis=0)
        order = np.argsort(np.abs(stacked - median), axis=0, kind="stable")
        closest = np.take_along_axis(stacked, order[:beta], axis=0)
        out.append(closest.mean(axis=0))
    return out


def aggregate_qffl(
    global_weights: Weights,
    client_weights: Sequence[Weights],
    losses: Sequence[float],
    q: float,
    learning_rate: float,
) -> Weights:
    """q-FedAvg server step (Algorithm 2 of the q-FFL paper).

    Clients with higher loss get proportionally more say (`F_k^q`), which
    trades some average accuracy for a more uniform accuracy across clients.
    `L = 1/learning_rate` estimates the Lipschitz constant of the gradient,
    the step size the paper derives from local SGD's learning rate. `q = 0`
    reduces to the unweighted mean of the client models.
    """
    _check_nonempty(client_weights)
    if len(losses) != len(client_weights):
        raise ValueError(f"{len(client_weights)} clients but {len(losses)} losses")
    if q < 0:
        raise ValueError(f"q must be >= 0, got {q}")
    if learning_rate <= 0:
        raise ValueError(f"learning_rate must be > 0, got {learning_rate}")
    lipschitz = 1.0 / learning_rate
    base = [np.asarray(a, dtype=np.float64) for a in global_weights]
    numerator = [np.zeros_like(a) for a in base]
    denominator = 0.0
    for client, loss in zip(client_weights, losses):
        if loss < 0:
            raise ValueError(f"q-FedAvg needs non-negative losses, got {loss}")
        # The guard keeps F_k^(q-1) finite when a client reports zero loss.
        f_k = float(loss) + 1e-10
        delta = [lipschitz * (g - np.asarray(w, dtype=np.float64)) for g, w in zip(base, client)]
        norm_sq = float(sum(np.sum(d * d) for d in delta))
        scale = f_k**q
        for acc, d in zip(numerator, delta):
            acc += scale * d
        denominator += q * f_k ** (q - 1) * norm_sq + lipschitz * scale
    return [g - acc / denominator for g, acc in zip(base, numerator)]
