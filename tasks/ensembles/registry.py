"""Name -> ensemble model class registry, a `ModelRegistry` like `tasks.models.registry`.

The client role builds the model with `build_ensemble` and calls `fit_round` each round;
the server role builds the same model (it holds no data) and takes `model.aggregator()`,
so both halves always agree on the options.
"""

from __future__ import annotations

from typing import Any

from tasks.ensembles.base import EnsembleModel
from tasks.ensembles.forest import RandomForest, WeightedRandomForest
from tasks.ensembles.xgb import XGBoost
from tasks.models.registry import ModelRegistry

_registry: dict[str, type] = {
    RandomForest.name: RandomForest,
    WeightedRandomForest.name: WeightedRandomForest,
    XGBoost.name: XGBoost,
}
_ensembles = ModelRegistry("ensemble", _registry)

registry = _ensembles.view
"""Read-only view of the registered ensemble classes, by name."""


def register_ensemble(name: str, cls: type, clobber: bool = False) -> None:
    """Register `cls` under `name`; refuse silent overwrites unless `clobber`."""
    _ensembles.register(name, cls, clobber)


def build_ensemble(name: str, n_features: int, n_classes: int, *, seed: int = 0, **options: Any) -> EnsembleModel:
    """Build a registered ensemble model (client half; `.aggregator()` gives the server half)."""
    return _ensembles.build(name, n_features, n_classes, seed=seed, **options)
