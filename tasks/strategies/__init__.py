"""Server-side aggregation strategies for fedpe (Flower-style layout).

One module per algorithm, the maths in `tasks.strategies.aggregate`, the
option schemas in `tasks.strategies.config`. Paper references are in each
module's docstring; FedAvg itself is McMahan et al. (2017), arXiv:1602.05629.
"""

from tasks.strategies.base import FitResult, Strategy, Weights
from tasks.strategies.bulyan import Bulyan
from tasks.strategies.config import (
    BulyanConfig,
    FedAdagradConfig,
    FedAdamConfig,
    FedAvgConfig,
    FedAvgMConfig,
    FedMedianConfig,
    FedProxConfig,
    FedYogiConfig,
    KrumConfig,
    MultiKrumConfig,
    QFedAvgConfig,
    ScaffoldConfig,
    StrategyConfig,
    TrimmedMeanConfig,
    min_clients,
)
from tasks.strategies.fedavg import FedAvg
from tasks.strategies.fedavgm import FedAvgM
from tasks.strategies.fedmedian import FedMedian
from tasks.strategies.fedopt import FedAdagrad, FedAdam, FedOpt, FedYogi
from tasks.strategies.fedprox import FedProx
from tasks.strategies.krum import Krum, MultiKrum
from tasks.strategies.qfedavg import QFedAvg
from tasks.strategies.registry import build_strategy, register_strategy, registry
from tasks.strategies.scaffold import Scaffold, scaffold_correction, scaffold_update_control
from tasks.strategies.trimmed_mean import TrimmedMean

__all__ = [
    "Bulyan",
    "BulyanConfig",
    "FedAdagrad",
    "FedAdagradConfig",
    "FedAdam",
    "FedAdamConfig",
    "FedAvg",
    "FedAvgConfig",
    "FedAvgM",
    "FedAvgMConfig",
    "FedMedian",
    "FedMedianConfig",
    "FedOpt",
    "FedProx",
    "FedProxConfig",
    "FedYogi",
    "FedYogiConfig",
    "FitResult",
    "Krum",
    "KrumConfig",
    "MultiKrum",
    "MultiKrumConfig",
    "QFedAvg",
    "QFedAvgConfig",
    "Scaffold",
    "ScaffoldConfig",
    "Strategy",
    "StrategyConfig",
    "TrimmedMean",
    "TrimmedMeanConfig",
    "Weights",
    "build_strategy",
    "min_clients",
    "register_strategy",
    "registry",
    "scaffold_correction",
    "scaffold_update_control",
]
