"""Weight models with explicit gradients (FedProx and SCAFFOLD need them): NumPy, and one PyTorch.

The read-only name->class mapping lives at `tasks.models.registry.registry`;
it is deliberately not re-exported here, so `tasks.models.registry` stays the
module and is not shadowed by the mapping.
"""

from tasks.models.base import Model, SoftmaxModel, Weights
from tasks.models.cox import CoxPH
from tasks.models.elastic_net import ElasticNet
from tasks.models.linear_svm import LinearSVM
from tasks.models.logreg import LogisticRegression
from tasks.models.mlp import MLP
from tasks.models.registry import build_model, register_model
from tasks.models.torch_mlp import TorchMLP

__all__ = [
    "MLP",
    "CoxPH",
    "ElasticNet",
    "LinearSVM",
    "LogisticRegression",
    "TorchMLP",
    "Model",
    "SoftmaxModel",
    "Weights",
    "build_model",
    "register_model",
]
