"""Which models are weight vectors and which are ensembles, and which strategies each accepts.

The rule, one table: every weight strategy in `tasks.strategies` aggregates arrays of a
fixed shape, so it applies to weight models only; an ensemble (forest, booster) is combined
by its own rule in `tasks.ensembles` and runs under `fedavg` alone, which for it means
"the ensemble's own sample-weighted combination" (Flower's `FedXgbBagging` and
`FedXgbCyclic` are `FedAvg` subclasses in the same sense). Within weight models:

- SGD models (logreg, mlp, linear_svm, elastic_net, torch_mlp) accept every strategy;
- cox trains with Newton steps, so it refuses what needs SGD's step count and learning rate
  (SCAFFOLD's control variates, q-FedAvg's Lipschitz estimate 1/lr) and accepts the rest;
  FedProx's proximal term enters its Newton step.

DP (clipped, noised updates) needs a weight vector: refused for ensembles.

`combination_problem` is pure and cheap, so the flow's validator and the API can refuse a
mismatch before anything starts; it returns (field, message) like `strategy_problem`.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Literal

from tasks.strategies.config import StrategyConfig

ModelKind = Literal["weights", "ensemble"]

STRATEGY_NAMES: tuple[str, ...] = tuple(m.model_fields["name"].default for m in StrategyConfig.__args__)
"""Every weight strategy, in the order of the strategy form."""

_NEEDS_SGD: tuple[str, ...] = ("scaffold", "qfedavg")

_KINDS: dict[str, ModelKind] = {
    "logreg": "weights",
    "mlp": "weights",
    "linear_svm": "weights",
    "elastic_net": "weights",
    "torch_mlp": "weights",
    "cox": "weights",
    "random_forest": "ensemble",
    "weighted_random_forest": "ensemble",
    "xgboost": "ensemble",
}
MODEL_KINDS = MappingProxyType(_KINDS)
"""Model name -> "weights" (tasks.models.registry) or "ensemble" (tasks.ensembles.registry)."""

_ACCEPTS: dict[str, tuple[str, ...]] = {
    name: (("fedavg",) if kind == "ensemble"
           else tuple(s for s in STRATEGY_NAMES if s not in _NEEDS_SGD) if name == "cox"
           else STRATEGY_NAMES)
    for name, kind in _KINDS.items()
}
ACCEPTED_STRATEGIES = MappingProxyType(_ACCEPTS)
"""Model name -> the strategies it may run under."""

SURVIVAL_MODELS: tuple[str, ...] = ("cox",)
"""Models whose target is (duration, event) rather than a class label."""

OPTIONAL_EXTRAS: dict[str, tuple[str, str]] = {"torch_mlp": ("torch", 'pip install -e ".[torch]"')}
"""Model name -> (module it imports, how to install it)."""


def model_kind(model: str) -> ModelKind:
    """"weights" or "ensemble"; ValueError naming the known models otherwise."""
    try:
        return _KINDS[model]
    except KeyError:
        raise ValueError(f"model: unknown model {model!r} (one of: {', '.join(_KINDS)})") from None


def imputes(kind: str) -> bool:
    """Whether the federated preparation fills a model's missing values: a weight model needs a
    number in every cell; an ensemble's trees keep the gaps (XGBoost learns where they go)."""
    return kind == "weights"


def _strategy_name(strategy: object) -> str | None:
    if strategy is None:
        return "fedavg"
    if isinstance(strategy, str):
        return strategy
    if isinstance(strategy, dict):
        return strategy.get("name", "fedavg")
    return getattr(strategy, "name", None)


def _dp_on(dp: object) -> bool:
    if dp is None or dp is False:
        return False
    if isinstance(dp, dict):
        return bool(dp.get("enabled", True))
    return bool(getattr(dp, "enabled", True))


def combination_problem(model: str, strategy: object = None, dp: object = None) -> tuple[str, str] | None:
    """What is wrong with training `model` under `strategy` with `dp`, as (field, message); None if fine.

    `strategy` may be a name, a dict with "name" or a strategy config; `dp` None/False
    for off, or a DP config (a dict or object whose `enabled` is false also counts as off).
    """
    if model not in _KINDS:
        return "model", f"unknown model {model!r} (one of: {', '.join(_KINDS)})"
    kind = _KINDS[model]
    name = _strategy_name(strategy)
    if name not in STRATEGY_NAMES:
        return "strategy.name", f"unknown strategy {name!r} (one of: {', '.join(STRATEGY_NAMES)})"
    if name not in _ACCEPTS[model]:
        if kind == "ensemble":
            return "strategy", (f"{name} aggregates weight vectors; {model} is an ensemble "
                                f"(combined by its own rule: use fedavg)")
        return "strategy", (f"{name} needs SGD steps and a learning rate; {model} trains with Newton steps "
                            f"(use one of: {', '.join(_ACCEPTS[model])})")
    if kind == "ensemble" and _dp_on(dp):
        return "dp", f"DP clips and noises weight updates; {model} is an ensemble of trees (turn dp off)"
    return None


def dependency_problem(model: str) -> tuple[str, str] | None:
    """("model", how to install it) when `model` needs an optional extra that is absent here."""
    import importlib.util

    extra = OPTIONAL_EXTRAS.get(model)
    if extra is None or importlib.util.find_spec(extra[0]) is not None:
        return None
    return "model", f"{model} needs the optional extra {extra[0]!r}: {extra[1]}"
