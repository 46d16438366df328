"""Name -> strategy class registry, in the shape of fsspec's `registry.py`.

A read-only view is public so callers can list what exists without being able
to mutate it by accident; additions go through `register_strategy`.
Paper references live in each strategy's module.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from pydantic import BaseModel, TypeAdapter

from tasks.strategies.base import Strategy
from tasks.strategies.bulyan import Bulyan
from tasks.strategies.config import StrategyConfig
from tasks.strategies.fedavg import FedAvg
from tasks.strategies.fedavgm import FedAvgM
from tasks.strategies.fedmedian import FedMedian
from tasks.strategies.fedopt import FedAdagrad, FedAdam, FedYogi
from tasks.strategies.fedprox import FedProx
from tasks.strategies.krum import Krum, MultiKrum
from tasks.strategies.qfedavg import QFedAvg
from tasks.strategies.scaffold import Scaffold
from tasks.strategies.trimmed_mean import TrimmedMean

_registry: dict[str, type[Strategy]] = {}
registry: Mapping[str, type[Strategy]] = MappingProxyType(_registry)

_config_adapter: TypeAdapter[Any] = TypeAdapter(StrategyConfig)


def register_strategy(name: str, cls: type[Strategy], clobber: bool = False) -> None:
    """Add `cls` under `name`; refuse to replace silently.

    A silent overwrite would make two plugins fight over a name with the last
    import winning, so replacing needs `clobber=True`.
    """
    if name in _registry and not clobber:
        raise ValueError(
            f"strategy {name!r} is already registered to {_registry[name].__name__}; "
            "pass clobber=True to replace it"
        )
    _registry[name] = cls


def build_strategy(
    config: StrategyConfig | Mapping[str, Any],
    *,
    learning_rate: float,
    num_clients: int | None = None,
) -> Strategy:
    """Instantiate the strategy named by `config`.

    Accepts a plain mapping too, so the API and SDK can pass JSON straight
    through and still get pydantic's validation errors.
    """
    if not isinstance(config, BaseModel):
        config = _config_adapter.validate_python(dict(config))
    name = getattr(config, "name", None)
    if name not in _registry:
        raise ValueError(f"unknown strategy {name!r}; known: {sorted(_registry)}")
    return _registry[name](config, learning_rate=learning_rate, num_clients=num_clients)


for _cls in (
    FedAvg,
    FedAvgM,
    FedProx,
    FedAdam,
    FedYogi,
    FedAdagrad,
    QFedAvg,
    FedMedian,
    TrimmedMean,
    Krum,
    MultiKrum,
    Bulyan,
    Scaffold,
):
    register_strategy(_cls.name, _cls)
del _cls
