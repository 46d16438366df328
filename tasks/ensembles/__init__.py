"""Ensemble models (forests, boosters): grown and combined, never weight-averaged.

The seam beside `tasks.strategies`: `base` has the client/server contract, `forest`
and `xgb` one algorithm each, `registry` the names. The read-only mapping lives at
`tasks.ensembles.registry.registry`.
"""

from tasks.ensembles.base import EnsembleAggregator, EnsembleFitResult, EnsembleModel
from tasks.ensembles.forest import ForestAggregator, RandomForest, WeightedRandomForest
from tasks.ensembles.registry import build_ensemble, register_ensemble
from tasks.ensembles.xgb import XGBoost, XGBoostBagging, XGBoostCyclic

__all__ = [
    "EnsembleAggregator",
    "EnsembleFitResult",
    "EnsembleModel",
    "ForestAggregator",
    "RandomForest",
    "WeightedRandomForest",
    "XGBoost",
    "XGBoostBagging",
    "XGBoostCyclic",
    "build_ensemble",
    "register_ensemble",
]
