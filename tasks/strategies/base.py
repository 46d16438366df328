"""Shared types and the strategy base class for server-side aggregation.

The shape follows Flower's `Strategy`/`FedAvg` split (Beutel et al. 2020,
"Flower: A Friendly Federated Learning Research Framework", arXiv:2007.14390):
a strategy owns the server state between rounds, tells clients what they need
for local training, and turns the clients' results into new global weights.
The maths lives in `tasks.strategies.aggregate` so it can be tested
without any strategy object.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
from pydantic import BaseModel

Weights = list[np.ndarray]


@dataclass
class FitResult:
    """One client's answer to a training round.

    `metrics["loss_before"]` (the client's training loss of the *global*
    weights, measured before local training) is required by q-FedAvg only.
    `control_delta` (`c_i_new - c_i`) is required by SCAFFOLD only.
    """

    host: str
    weights: Weights
    num_examples: int
    metrics: dict[str, float] = field(default_factory=dict)
    control_delta: Weights | None = None


class Strategy:
    """Base class: subclasses override only the hook whose behaviour differs.

    Strategies are stateful (server momentum, Adam moments, SCAFFOLD's global
    control variate), so one instance must live for the whole training run.
    """

    name: ClassVar[str]
    config_type: ClassVar[type[BaseModel]]

    def __init__(
        self,
        config: BaseModel | None = None,
        *,
        learning_rate: float = 0.1,
        num_clients: int | None = None,
    ) -> None:
        # A default config lets the SDK and tests write `FedAvg()`; a config of
        # the wrong type is a wiring bug we want to see at construction time.
        if config is None:
            config = self.config_type()
        if not isinstance(config, self.config_type):
            raise TypeError(
                f"{type(self).__name__} needs a {self.config_type.__name__}, "
                f"got {type(config).__name__}"
            )
        if learning_rate <= 0:
            raise ValueError(f"learning_rate must be > 0, got {learning_rate}")
        if num_clients is not None and num_clients < 1:
            raise ValueError(f"num_clients must be >= 1, got {num_clients}")
        self.config = config
        self.learning_rate = float(learning_rate)
        self.num_clients = num_clients

    def initialize(self, weights: Weights) -> None:
        """Reset server state for a run starting from `weights`.

        Stateless strategies keep nothing; stateful ones override this. Calling
        it is optional for them too: they initialise lazily on the first
        aggregation, but an explicit call makes restarts deterministic.
        """

    def client_config(self, server_round: int) -> dict[str, Any]:
        """Settings clients need for local training this round.

        `proximal_mu` is always present (0.0 = plain local SGD) so the client
        loop never needs to know which strategy is running.
        """
        return {"proximal_mu": 0.0}

    def aggregate_fit(
        self, server_round: int, global_weights: Weights, results: list[FitResult]
    ) -> Weights:
        """Return the new global weights built from this round's results."""
        raise NotImplementedError

    def required_clients(self) -> int:
        """Fewest clients per round for which the aggregation is defined."""
        required = getattr(self.config, "required_clients", None)
        return int(required()) if callable(required) else 1


def check_results(global_weights: Weights, results: list[FitResult]) -> None:
    """Fail early, naming the host, when a client's weights do not fit the model.

    A shape mismatch would otherwise surface as an opaque NumPy broadcasting
    error deep inside an aggregation rule (or, worse, broadcast silently).
    """
    if not results:
        raise ValueError("no client results to aggregate")
    shapes = [np.shape(layer) for layer in global_weights]
    for result in results:
        got = [np.shape(layer) for layer in result.weights]
        if got != shapes:
            raise ValueError(
                f"client {result.host!r} sent weights with shapes {got}, "
                f"the global model has {shapes}"
            )
        if result.num_examples < 0:
            raise ValueError(
                f"client {result.host!r} reported num_examples={result.num_examples}"
            )


def cast_like(values: Weights, reference: Weights) -> Weights:
    """Give aggregated layers the dtype of the model's layers.

    Arithmetic runs in float64 for accuracy; returning float64 for a float32
    model would double its size on the wire. Integer layers (e.g. BatchNorm's
    `num_batches_tracked`) stay float64 because truncating an average to an
    integer would silently bias it.
    """
    out: Weights = []
    for value, ref in zip(values, reference):
        ref_dtype = np.asarray(ref).dtype
        if np.issubdtype(ref_dtype, np.floating):
            out.append(np.asarray(value, dtype=ref_dtype))
        else:
            out.append(np.asarray(value, dtype=np.float64))
    return out
