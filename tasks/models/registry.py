"""Name -> model class registry (same shape as fsspec's `registry.py`).

Weight models only: ensembles (forests, boosters) have their own seam in
`tasks.ensembles.registry`, kept by the same `ModelRegistry`. This is the seam for new
weight models: one is added by writing a class that implements the `tasks.models.base.Model`
protocol (`get_weights`/`set_weights` as lists of NumPy arrays, `loss`, `grad`,
`predict_proba`, ...) with constructor `cls(n_features, n_classes, *,
seed=..., **options)` and calling `register_model(name, cls)`. Nothing in
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


class ModelRegistry:
    """Names of model classes built as `cls(n_features, n_classes, *, seed=..., **options)`.

    One rule for every kind of model (weights here, ensembles in `tasks.ensembles.registry`):
    a name is replaced only with `clobber=True`, so two plugins cannot fight over a name with the
    last import winning, and an unknown name is refused naming the known ones.
    """

    def __init__(self, kind: str, classes: dict[str, type]) -> None:
        self.kind = kind
        self._classes = classes
        self.view = MappingProxyType(classes)  # what callers may read: listing never mutates

    def register(self, name: str, cls: type, clobber: bool = False) -> None:
        """Register `cls` under `name`; refuse silent overwrites unless `clobber`."""
        if not isinstance(name, str) or not name:
            raise ValueError(f"{self.kind} name must be a non-empty string, got {name!r}")
        if not callable(cls):
            raise ValueError(f"{self.kind} class for {name!r} must be callable, got {cls!r}")
        if name in self._classes and not clobber:
            raise ValueError(
                f"{self.kind} {name!r} is already registered to {self._classes[name]!r}; "
                "pass clobber=True to replace it"
            )
        self._classes[name] = cls

    def build(self, name: str, n_features: int, n_classes: int, *, seed: int = 0, **options: Any) -> Any:
        """An instance of the class registered under `name`; ValueError naming the known names otherwise."""
        try:
            cls = self._classes[name]
        except KeyError:
            known = ", ".join(sorted(self._classes)) or "(none)"
            raise ValueError(f"unknown {self.kind} {name!r}; registered {self.kind}s: {known}") from None
        return cls(n_features, n_classes, seed=seed, **options)


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
_models = ModelRegistry("model", _registry)

registry = _models.view
"""Read-only view of the registered model classes, by name."""


def register_model(name: str, cls: type, clobber: bool = False) -> None:
    """Register `cls` under `name`; refuse silent overwrites unless `clobber`."""
    _models.register(name, cls, clobber)


def build_model(name: str, n_features: int, n_classes: int, *, seed: int = 0, **options: Any) -> Model:
    """Build a registered model; the same name, sizes, seed and options give identical weights on every host."""
    return _models.build(name, n_features, n_classes, seed=seed, **options)
