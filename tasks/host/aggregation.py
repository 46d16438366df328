"""How the server combines a round, one class per kind of model: the server role's model seam.

- `WeightAggregation`: the weight strategies (tasks/strategies) over weight vectors, with
  differential privacy (clipped updates, Gaussian noise, RDP accounting) where asked;
- `EnsembleAggregation`: the ensemble's own rule (tasks/ensembles): the forest's
  sample-weighted tree selection, XGBoost's bagging or cyclic boosting.

Both keep the global `state` the clients receive, choose who trains among the sampled clients,
and say what the round's configuration is. The server role (tasks/host/server.py) holds the
round loop and stays the same for every model.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from tasks.privacy import PrivacyAccountant, add_gaussian_noise, adaptive_clip_norm
from tasks.host.specs import ServerSpec, TrainingSpec
from tasks.strategies.base import FitResult


@dataclass
class Privacy:
    """DP state across rounds: the clipping norm, the noise and the accountant."""

    clip_norm: float | None = None
    noise_multiplier: float = 0.0
    accountant: PrivacyAccountant | None = None
    max_rounds: float = math.inf
    epsilon: float | None = None


def all_noised(fits, noise_multiplier: float) -> bool:
    """Whether every update of the round came noised by its host at least as much as the training asks.

    A host noising its own clipped update by z x its norm gives the round's sum at least the noise
    of the central mechanism for every client's contribution, so the server adds none on top.
    """
    fits = list(fits)
    return bool(fits) and all((a.get("local_noise") or {}).get("noise_multiplier", 0.0) >= noise_multiplier
                              for a in fits)


class WeightAggregation:
    """A weight strategy over the clients' weights, DP noise on top where asked."""

    def __init__(self, spec: ServerSpec, training: TrainingSpec, initial: list[np.ndarray], expected: int,
                 rng: np.random.Generator):
        from tasks.strategies.registry import build_strategy

        self.training = training
        self.rng = rng
        self.strategy = build_strategy(spec.strategy, learning_rate=training.learning_rate,
                                       num_clients=len(spec.clients))
        self.strategy.initialize(initial)
        self.state = initial
        self.privacy = Privacy()
        dp = training.dp
        if dp is not None:
            accountant = PrivacyAccountant(dp.noise_multiplier, expected / len(spec.clients), dp.delta)
            self.privacy = Privacy(
                clip_norm=dp.clipping_norm,
                noise_multiplier=dp.update_noise_multiplier(expected) if dp.adaptive else dp.noise_multiplier,
                accountant=accountant,
                max_rounds=accountant.rounds_within(dp.target_epsilon) if dp.target_epsilon else math.inf)

    def trainers(self, server_round: int, sampled: list[str]) -> list[str]:
        return sampled

    def config(self, server_round: int) -> dict:
        config = self.strategy.client_config(server_round)
        if self.training.dp is not None:
            config["clipping_norm"] = self.privacy.clip_norm
        return config

    def aggregate(self, server_round: int, fits: dict[str, dict]) -> Any:
        results = [FitResult(host=h, weights=a["update"], num_examples=a["num_examples"], metrics=a["metrics"],
                             control_delta=a["control_delta"]) for h, a in fits.items()]
        self.state = self.strategy.aggregate_fit(server_round, self.state, results)
        dp = self.training.dp
        if dp is not None:
            p = self.privacy
            if not all_noised(fits.values(), p.noise_multiplier):  # else the clients' own noise is at least this
                self.state = add_gaussian_noise(self.state, p.noise_multiplier, p.clip_norm, len(fits), self.rng)
            if dp.adaptive:
                p.clip_norm = adaptive_clip_norm(p.clip_norm, [bool(a["clipped"]) for a in fits.values()],
                                                 dp.target_quantile, dp.clip_learning_rate,
                                                 dp.count_stddev(len(fits)), len(fits), self.rng)
            p.epsilon = p.accountant.epsilon(server_round)
        return self.state


class EnsembleAggregation:
    """The ensemble's own combination of the clients' trees."""

    def __init__(self, training: TrainingSpec, n_features: int, n_classes: int):
        from tasks.ensembles.registry import build_ensemble

        model = build_ensemble(training.model, n_features, n_classes, seed=training.seed, **training.model_options)
        self.aggregator = model.aggregator()
        self.state = None
        self.privacy = Privacy()

    def trainers(self, server_round: int, sampled: list[str]) -> list[str]:
        return self.aggregator.select_clients(server_round, sampled)

    def config(self, server_round: int) -> dict:
        return {}

    def aggregate(self, server_round: int, fits: dict[str, dict]) -> Any:
        from tasks.ensembles.base import EnsembleFitResult

        results = [EnsembleFitResult(host=h, payload=a["update"], num_examples=a["num_examples"])
                   for h, a in fits.items()]
        self.state = self.aggregator.aggregate(server_round, self.state, results)
        return self.state
