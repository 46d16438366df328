"""FedAvgM: FedAvg with server momentum.

Hsu, Qi, Brown (2019), "Measuring the Effects of Non-Identical Data
Distribution for Federated Visual Classification", arXiv:1909.06335.
Update: pseudo-gradient d = w - fedavg(w_k); v = momentum*v + d;
w = w - server_lr*v.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from tasks.strategies.base import FitResult, Weights
from tasks.strategies.config import FedAvgMConfig
from tasks.strategies.fedavg import FedAvg


class FedAvgM(FedAvg):
    """Momentum smooths the round-to-round swings that non-IID clients cause."""

    name: ClassVar[str] = "fedavgm"
    config_type: ClassVar[type] = FedAvgMConfig

    def initialize(self, weights: Weights) -> None:
        self.momentum: Weights | None = [np.zeros(np.shape(w)) for w in weights]

    def server_update(self, base: Weights, combined: Weights, results: list[FitResult]) -> Weights:
        if getattr(self, "momentum", None) is None:
            self.initialize(base)
        beta = self.config.server_momentum
        self.momentum = [
            beta * v + (g - a) for v, g, a in zip(self.momentum, base, combined)
        ]
        return [g - self.config.server_lr * v for g, v in zip(base, self.momentum)]
