"""FedAvg: sample-weighted averaging of client models.

McMahan, Moore, Ramage, Hampson, Agüera y Arcas (2017), "Communication-Efficient
Learning of Deep Networks from Decentralized Data", arXiv:1602.05629.
"""

from __future__ import annotations

from typing import ClassVar

from tasks.strategies.aggregate import weighted_average
from tasks.strategies.base import FitResult, Strategy, Weights, cast_like, check_results
from tasks.strategies.config import FedAvgConfig


class FedAvg(Strategy):
    """Reference strategy; robust variants override only :meth:`aggregate`."""

    name: ClassVar[str] = "fedavg"
    config_type: ClassVar[type] = FedAvgConfig

    def aggregate(self, results: list[FitResult]) -> Weights:
        """The combination rule; the one hook most subclasses change."""
        return weighted_average(
            [r.weights for r in results], [r.num_examples for r in results]
        )

    def aggregate_fit(
        self, server_round: int, global_weights: Weights, results: list[FitResult]
    ) -> Weights:
        check_results(global_weights, results)
        return cast_like(self.aggregate(results), global_weights)
