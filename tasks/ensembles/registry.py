"""Name -> ensemble model class registry, in the shape of ``tasks.models.registry``.

The client role builds the model with ``build_ensemble`` and calls ``fit_round`` each round;
the server role builds the same model (it holds no data) and takes ``model.aggregator()``,
so both halves always agree on the options.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Any

from tasks.ensembles.base import EnsembleModel
from tasks.ensembles.forest import RandomForest, WeightedRandomForest
from tasks.ensembles.xgb import XGBoost

_registry: dict[str, type] = {
    RandomForest.name: RandomForest,
    WeightedRandomForest.name: WeightedRandomForest,
    XGBoost.name: XGBoost,
}

registry = MappingProxyType(_registry)
"""Read-only view of the registered ensemble classes, by name."""


def register_ensemble(name: str, cls: type, clobber: bool = False) -> None:
    """Register ``cls`` under ``name``; refuse silent overwrites unless ``clobber``."""
    if not isinstance(name, str) or not name:
        raise ValueError(f"ensemble name must be a non-empty string, got {name!r}")
    if name in _registry and not clobber:
        raise ValueError(f"ensemble {name!r} is already registered to {_registry[name]!r}; pass clobber=True")
    _registry[name] = cls


def build_ensemble(name: str, n_features: int, n_classes: int, *, seed: int = 0, **options: Any) -> EnsembleModel:
    """Build a registered ensemble model (client half; ``.aggregator()`` gives the server half)."""
    try:
        cls = _registry[name]
    except KeyError:
        known = ", ".join(sorted(_registry)) or "(none)"
        raise ValueError(f"unknown ensemble {name!r}; registered ensembles: {known}") from None
    return cls(n_features, n_classes, seed=seed, **options)
