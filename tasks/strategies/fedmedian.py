"""FedMedian: coordinate-wise median of the client models.

Yin, Chen, Ramchandran, Bartlett (2018), "Byzantine-Robust Distributed
Learning: Towards Optimal Statistical Rates", arXiv:1803.01498.
"""

from __future__ import annotations

from typing import ClassVar

from tasks.strategies.aggregate import aggregate_median
from tasks.strategies.base import FitResult, Weights
from tasks.strategies.config import FedMedianConfig
from tasks.strategies.fedavg import FedAvg


class FedMedian(FedAvg):
    """Median instead of mean, so a minority of bad clients cannot drag a coordinate."""

    name: ClassVar[str] = "fedmedian"
    config_type: ClassVar[type] = FedMedianConfig

    def aggregate(self, results: list[FitResult]) -> Weights:
        return aggregate_median([r.weights for r in results])
