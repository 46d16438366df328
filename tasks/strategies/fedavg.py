"""FedAvg: sample-weighted averaging of client models.

McMahan, Moore, Ramage, Hampson, Agüera y Arcas (2017), "Communication-Efficient
Learning of Deep Networks from Decentralized Data", arXiv:1602.05629.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from tasks.strategies.aggregate import weighted_average
from tasks.strategies.base import FitResult, Strategy, Weights, cast_like, check_results
from tasks.strategies.config import FedAvgConfig


class FedAvg(Strategy):
    """The template of a round's aggregation, and its reference strategy.

    `aggregate_fit` checks the results, combines them with `aggregate` (the hook robust
    variants change: median, trimmed mean, Krum, Bulyan) and moves the global model with
    `server_update` (the hook server optimisers change: momentum, Adam, SCAFFOLD's
    step). FedAvg itself takes the combination as the new model.
    """

    name: ClassVar[str] = "fedavg"
    config_type: ClassVar[type] = FedAvgConfig

    def aggregate(self, results: list[FitResult]) -> Weights:
        """The combination rule; the one hook most subclasses change."""
        return weighted_average(
            [r.weights for r in results], [r.num_examples for r in results]
        )

    def server_update(self, base: Weights, combined: Weights, results: list[FitResult]) -> Weights:
        """The new global model from the current one (`base`, float64) and the round's combination."""
        return combined

    def aggregate_fit(
        self, server_round: int, global_weights: Weights, results: list[FitResult]
    ) -> Weights:
        check_results(global_weights, results)
        combined = self.aggregate(results)
        base = [np.asarray(g, dtype=np.float64) for g in global_weights]
        return cast_like(self.server_update(base, combined, results), global_weights)
