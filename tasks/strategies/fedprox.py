"""FedProx: FedAvg aggregation with a proximal term in the clients' loss.

Li, Sahu, Zaheer, Sanjabi, Talwalkar, Smith (2020), "Federated Optimization in
Heterogeneous Networks", arXiv:1812.06127. The server side is FedAvg; only the
clients change, adding (mu/2)*||w - w_global||^2 to keep heterogeneous local
training from drifting far from the global model.
"""

from __future__ import annotations

from typing import Any, ClassVar

from tasks.strategies.config import FedProxConfig
from tasks.strategies.fedavg import FedAvg


class FedProx(FedAvg):
    """FedAvg that tells clients which proximal weight to use."""

    name: ClassVar[str] = "fedprox"
    config_type: ClassVar[type] = FedProxConfig

    def client_config(self, server_round: int) -> dict[str, Any]:
        return {**super().client_config(server_round), "proximal_mu": float(self.config.mu)}
