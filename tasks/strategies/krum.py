"""Krum and Multi-Krum: keep the client models closest to their neighbours.

Blanchard, El Mhamdi, Guerraoui, Stainer (2017), "Machine Learning with
Adversaries: Byzantine Tolerant Gradient Descent", NeurIPS 2017,
arXiv:1703.02757.
"""

from __future__ import annotations

from typing import ClassVar

from tasks.strategies.aggregate import aggregate_krum
from tasks.strategies.base import FitResult, Weights
from tasks.strategies.config import KrumConfig, MultiKrumConfig
from tasks.strategies.fedavg import FedAvg


class Krum(FedAvg):
    """Selects one model; robust to `f` Byzantine clients when n >= 2f+3."""

    name: ClassVar[str] = "krum"
    config_type: ClassVar[type] = KrumConfig

    def num_selected(self) -> int:
        """How many best-scored models to average (1 for Krum)."""
        return 1

    def aggregate(self, results: list[FitResult]) -> Weights:
        return aggregate_krum([r.weights for r in results], self.config.f, self.num_selected())


class MultiKrum(Krum):
    """Averages the `m` best models: less variance than Krum, same filtering."""

    name: ClassVar[str] = "multikrum"
    config_type: ClassVar[type] = MultiKrumConfig

    def num_selected(self) -> int:
        return self.config.m
