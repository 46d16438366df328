"""Bulyan: repeated Krum selection followed by a coordinate-wise trimmed mean.

El Mhamdi, Guerraoui, Rouault (2018), "The Hidden Vulnerability of Distributed
Learning in Byzantium", ICML 2018, arXiv:1802.07927.
"""

from __future__ import annotations

from typing import ClassVar

from tasks.strategies.aggregate import aggregate_bulyan
from tasks.strategies.base import FitResult, Weights
from tasks.strategies.config import BulyanConfig
from tasks.strategies.fedavg import FedAvg


class Bulyan(FedAvg):
    """Closes Krum's single-coordinate loophole; needs n >= 4f+3 clients."""

    name: ClassVar[str] = "bulyan"
    config_type: ClassVar[type] = BulyanConfig

    def aggregate(self, results: list[FitResult]) -> Weights:
        return aggregate_bulyan([r.weights for r in results], self.config.f)
