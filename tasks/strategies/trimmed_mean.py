"""Trimmed mean: coordinate-wise mean after cutting a fraction from each tail.

Yin, Chen, Ramchandran, Bartlett (2018), "Byzantine-Robust Distributed
Learning: Towards Optimal Statistical Rates", arXiv:1803.01498.
"""

from __future__ import annotations

from typing import ClassVar

from tasks.strategies.aggregate import aggregate_trimmed_mean
from tasks.strategies.base import FitResult, Weights
from tasks.strategies.config import TrimmedMeanConfig
from tasks.strategies.fedavg import FedAvg


class TrimmedMean(FedAvg):
    """Between mean and median: drops floor(beta*n) values per end, averages the rest."""

    name: ClassVar[str] = "trimmed_mean"
    config_type: ClassVar[type] = TrimmedMeanConfig

    def aggregate(self, results: list[FitResult]) -> Weights:
        return aggregate_trimmed_mean([r.weights for r in results], self.config.beta)
