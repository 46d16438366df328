"""Small NumPy models with explicit gradients (FedProx and SCAFFOLD need them).

The read-only name->class mapping lives at ``tasks.models.registry.registry``;
it is deliberately not re-exported here, so ``tasks.models.registry`` stays the
module and is not shadowed by the mapping.
"""

from tasks.models.base import Model, SoftmaxModel, Weights
from tasks.models.logreg import LogisticRegression
from tasks.models.mlp import MLP
from tasks.models.registry import build_model, register_model

__all__ = [
    "MLP",
    "LogisticRegression",
    "Model",
    "SoftmaxModel",
    "Weights",
    "build_model",
    "register_model",
]
