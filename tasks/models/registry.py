"""Name -> model class registry (same shape as fsspec's ``registry.py``).

Weight models only: ensembles (forests, boosters) have their own seam in
``tasks.ensembles.registry``. This is the seam for new weight models: one is added by
writing a class that implements the ``tasks.models.base.Model`` protocol
(``get_weights``/``set_weights`` as lists of NumPy arrays, ``loss``, ``grad``,
``predict_proba``, ...) with constructor ``cls(n_features, n_classes, *,
seed=..., **options)`` and calling ``register_model(name, cls)``. Nothing in
the training loop or the strategies needs to change.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Any

from tasks.models.base import Model
from tasks.models.cox import CoxPH
from tasks.models.elastic_net import ElasticNet
from tasks.models.linear_svm import LinearSVM
from tasks.models.logreg import LogisticRegression
from tasks.models.mlp import MLP
from tasks.models.torch_mlp import TorchMLP

# TorchMLP is registered even without torch: its module imports without it, and building it
# then raises InvalidArgument naming the extra, so forms and listings never depend on torch.
_registry: dict[str, type] = {
    LogisticRegression.name: LogisticRegression,
    MLP.name: MLP,
    LinearSVM.name: LinearSVM,
    ElasticNet.name: ElasticNet,
    CoxPH.name: CoxPH,
    TorchMLP.name: TorchMLP,
}

registry = MappingProxyType(_registry)
"""Read-only view of the registered model classes, by name."""


def register_model(name: str, cls: type, clobber: bool = False) -> None:
    """Register ``cls`` under ``name``; refuse silent overwrites unless ``clobber``."""
    if not isinstance(name, str) or not name:
        raise ValueError(f"model name must be a non-empty string, got {name!r}")
    if not callable(cls):
        raise ValueError(f"model class for {name!r} must be callable, got {cls!r}")
    if name in _registry and not clobber:
        raise ValueError(
            f"model {name!r} is already registered to {_registry[name]!r}; pass clobber=True to replace it"
        )
    _registry[name] = cls


def build_model(name: str, n_features: int, n_classes: int, *, seed: int = 0, **options: Any) -> Model:
    """Build a registered model; the same name, sizes, seed and options give identical weights on every host."""
    try:
        cls = _registry[name]
    except KeyError:
        known = ", ".join(sorted(_registry)) or "(none)"
        raise ValueError(f"unknown model {name!r}; registered models: {known}") from None
    return cls(n_features, n_classes, seed=seed, **options)
