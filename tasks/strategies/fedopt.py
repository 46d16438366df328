"""FedOpt family: adaptive server optimisers (FedAdam, FedYogi, FedAdagrad).

Reddi, Charles, Zaheer, Garrett, Rush, Konečný, Kumar, McMahan (2021),
"Adaptive Federated Optimization", ICLR 2021, arXiv:2003.00295, Algorithm 2:

    delta = fedavg(w_k) - w
    m = beta_1*m + (1 - beta_1)*delta
    v = v + delta^2                                   (Adagrad)
    v = v - (1 - beta_2)*delta^2*sign(v - delta^2)    (Yogi)
    v = beta_2*v + (1 - beta_2)*delta^2               (Adam)
    w = w + server_lr * m / (sqrt(v) + tau)

As in the paper, m starts at 0, v starts at tau^2 (its `v_{-1} >= tau^2`), and
there is no bias correction (Flower's FedAdam adds one; we follow the paper).
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from tasks.strategies.base import FitResult, Weights
from tasks.strategies.config import FedAdagradConfig, FedAdamConfig, FedYogiConfig
from tasks.strategies.fedavg import FedAvg


class FedOpt(FedAvg):
    """Shared first-moment and update step; subclasses supply the v rule."""

    def initialize(self, weights: Weights) -> None:
        tau = self.config.tau
        self.m: Weights | None = [np.zeros(np.shape(w)) for w in weights]
        self.v: Weights | None = [np.full(np.shape(w), tau * tau) for w in weights]

    def second_moment(self, v: np.ndarray, delta_sq: np.ndarray) -> np.ndarray:
        """The only line that differs between Adam, Yogi and Adagrad."""
        raise NotImplementedError

    def server_update(self, base: Weights, combined: Weights, results: list[FitResult]) -> Weights:
        if getattr(self, "m", None) is None:
            self.initialize(base)
        cfg = self.config
        delta = [a - g for a, g in zip(combined, base)]
        self.m = [cfg.beta_1 * m + (1 - cfg.beta_1) * d for m, d in zip(self.m, delta)]
        self.v = [self.second_moment(v, d * d) for v, d in zip(self.v, delta)]
        return [
            g + cfg.server_lr * m / (np.sqrt(v) + cfg.tau)
            for g, m, v in zip(base, self.m, self.v)
        ]


class FedAdagrad(FedOpt):
    """Accumulates squared updates: step sizes only ever shrink."""

    name: ClassVar[str] = "fedadagrad"
    config_type: ClassVar[type] = FedAdagradConfig

    def second_moment(self, v: np.ndarray, delta_sq: np.ndarray) -> np.ndarray:
        return v + delta_sq


class FedYogi(FedOpt):
    """Additive v change: cannot blow up on one large round the way Adam's can."""

    name: ClassVar[str] = "fedyogi"
    config_type: ClassVar[type] = FedYogiConfig

    def second_moment(self, v: np.ndarray, delta_sq: np.ndarray) -> np.ndarray:
        return v - (1 - self.config.beta_2) * delta_sq * np.sign(v - delta_sq)


class FedAdam(FedOpt):
    """Exponential moving average of squared updates."""

    name: ClassVar[str] = "fedadam"
    config_type: ClassVar[type] = FedAdamConfig

    def second_moment(self, v: np.ndarray, delta_sq: np.ndarray) -> np.ndarray:
        return self.config.beta_2 * v + (1 - self.config.beta_2) * delta_sq
