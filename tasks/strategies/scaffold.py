"""SCAFFOLD: stochastic controlled averaging, server strategy and client helpers.

Karimireddy, Kale, Mohri, Reddi, Stich, Suresh (2020), "SCAFFOLD: Stochastic
Controlled Averaging for Federated Learning", ICML 2020, arXiv:1910.06378
(Algorithm 1). Each client keeps a control variate c_i, the server keeps c;
local gradients are corrected by (c - c_i) so that clients on non-IID data stop
drifting towards their own optimum.

Server step (the paper's, unweighted over the participating set S):

    x = x + server_lr * mean_{i in S}(y_i - x)
    c = c + (|S|/N) * mean_{i in S}(delta c_i)

The unweighted mean is a deliberate choice: the control-variate update
`c = mean over all N clients of c_i` only stays consistent if every client
counts once, whatever its sample count.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from tasks.strategies.aggregate import average
from tasks.strategies.base import FitResult, Weights
from tasks.strategies.config import ScaffoldConfig
from tasks.strategies.fedavg import FedAvg


class Scaffold(FedAvg):
    """Stateful: holds the global control variate c between rounds."""

    name: ClassVar[str] = "scaffold"
    config_type: ClassVar[type] = ScaffoldConfig

    def initialize(self, weights: Weights) -> None:
        self.control: Weights | None = [np.zeros(np.shape(w)) for w in weights]

    def client_config(self, server_round: int) -> dict[str, Any]:
        control = getattr(self, "control", None)
        if control is None:
            raise RuntimeError("call initialize(weights) before the first SCAFFOLD round")
        return {
            **super().client_config(server_round),
            "scaffold_control": [c.copy() for c in control],
        }

    def aggregate(self, results: list[FitResult]) -> Weights:
        """Unweighted: every client counts once (the control variates' consistency needs it)."""
        return average([r.weights for r in results])

    def server_update(self, base: Weights, combined: Weights, results: list[FitResult]) -> Weights:
        if getattr(self, "control", None) is None:
            self.initialize(base)
        shapes = [np.shape(w) for w in base]
        for r in results:
            if r.control_delta is None:
                raise ValueError(f"scaffold needs control_delta from client {r.host!r}")
            if [np.shape(d) for d in r.control_delta] != shapes:
                raise ValueError(f"client {r.host!r} sent a control_delta of the wrong shape")
        total = self.num_clients if self.num_clients is not None else len(results)
        if total < len(results):
            raise ValueError(
                f"num_clients={total} is smaller than the {len(results)} results received"
            )
        mean_delta = average([r.control_delta for r in results])
        share = len(results) / total
        self.control = [c + share * d for c, d in zip(self.control, mean_delta)]
        return [g + self.config.server_lr * (m - g) for g, m in zip(base, combined)]


def scaffold_correction(c_global: Weights, c_local: Weights) -> Weights:
    """Term `c - c_i` the client adds to every local gradient.

    It swaps the client's own drift estimate for the federation's, which is
    what makes local steps point towards the global optimum.
    """
    if len(c_global) != len(c_local):
        raise ValueError("c_global and c_local have different numbers of arrays")
    return [np.asarray(c) - np.asarray(ci) for c, ci in zip(c_global, c_local)]


def scaffold_update_control(
    c_local: Weights,
    c_global: Weights,
    w_global: Weights,
    w_local: Weights,
    local_steps: int,
    learning_rate: float,
) -> tuple[Weights, Weights]:
    """New client control variate and the delta to send (paper's option II).

    `c_i+ = c_i - c + (x - y_i) / (K * lr)` reuses the local trajectory as a
    gradient estimate, so it costs no extra pass over the data (option I would).
    Returns `(c_local_new, c_local_new - c_local)`.
    """
    if local_steps < 1:
        raise ValueError(f"local_steps must be >= 1, got {local_steps}")
    if learning_rate <= 0:
        raise ValueError(f"learning_rate must be > 0, got {learning_rate}")
    if not len(c_local) == len(c_global) == len(w_global) == len(w_local):
        raise ValueError("control variates and weights have different numbers of arrays")
    scale = 1.0 / (local_steps * learning_rate)
    new = [
        np.asarray(ci) - np.asarray(c) + (np.asarray(x) - np.asarray(y)) * scale
        for ci, c, x, y in zip(c_local, c_global, w_global, w_local)
    ]
    delta = [n - np.asarray(ci) for n, ci in zip(new, c_local)]
    return new, delta
