"""q-FedAvg: fair federated averaging by reweighting towards high-loss clients.

Li, Sanjabi, Beirami, Smith (2020), "Fair Resource Allocation in Federated
Learning", ICLR 2020, arXiv:1905.10497 (Algorithm 2). Each client reports
`metrics["loss_before"]`: its training loss of the *global* weights before
local training, F_k(w^t) in the paper.
"""

from __future__ import annotations

from typing import ClassVar

from tasks.strategies.aggregate import aggregate_qffl
from tasks.strategies.base import FitResult, Weights
from tasks.strategies.config import QFedAvgConfig
from tasks.strategies.fedavg import FedAvg


class QFedAvg(FedAvg):
    """Its step needs the global weights, the clients' losses and their lr: a server update
    built from the results themselves rather than from FedAvg's combination."""

    name: ClassVar[str] = "qfedavg"
    config_type: ClassVar[type] = QFedAvgConfig

    def server_update(self, base: Weights, combined: Weights, results: list[FitResult]) -> Weights:
        missing = [r.host for r in results if "loss_before" not in r.metrics]
        if missing:
            raise ValueError(
                f"qfedavg needs metrics['loss_before'] from every client; missing from {missing}"
            )
        return aggregate_qffl(
            base,
            [r.weights for r in results],
            [float(r.metrics["loss_before"]) for r in results],
            q=self.config.q,
            learning_rate=self.learning_rate,
        )
