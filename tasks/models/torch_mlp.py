"""A PyTorch MLP behind the NumPy `Model` seam, so FedAvg, FedProx and SCAFFOLD run it unchanged.

The network is `Linear -> ReLU -> Linear` with a softmax cross-entropy loss, on the CPU,
in float64: weights leave and enter as float64 NumPy arrays in the NumPy `MLP`'s layout
(`[W1 (d, h), b1 (h,), W2 (h, k), b2 (k,)]`, the transpose of torch's `(out, in)`), and
`grad` comes from autograd. The init is the NumPy `MLP`'s own (`tasks.models.mlp.initial_weights`,
from `np.random.default_rng(seed)`), so both start from the same weights and compute the same
loss and gradient (PyTorch's own init would tie the weights to torch's RNG instead).

torch is an optional extra. This module imports without it, so the registry and the forms
load; building the model without torch raises `InvalidArgument` naming the extra.
"""

from __future__ import annotations

import importlib.util
from typing import Any, ClassVar

import numpy as np

from fedpe.errors import InvalidArgument
from tasks.models.base import Weights, check_X, check_dimensions
from tasks.models.mlp import check_hidden, initial_weights

TORCH_EXTRA_HINT = 'pip install -e ".[torch]"'


def torch_available() -> bool:
    """True when PyTorch can be imported here (checked without importing it)."""
    return importlib.util.find_spec("torch") is not None


def _import_torch() -> Any:
    try:
        import torch
    except ImportError as exc:
        raise InvalidArgument(
            f"model: torch_mlp needs PyTorch, which is not installed here; install the extra with {TORCH_EXTRA_HINT}",
            field="model",
        ) from exc
    return torch


class TorchMLP:
    """`X -> ReLU(X W1 + b1) -> W2 + b2 -> softmax` as a `torch.nn.Sequential`; l2 on W1, W2."""

    name: ClassVar[str] = "torch_mlp"
    weight_names: ClassVar[tuple[str, ...]] = ("W1", "b1", "W2", "b2")

    def __init__(
        self,
        n_features: int,
        n_classes: int,
        *,
        hidden: int = 64,
        l2: float = 0.0,
        seed: int = 0,
    ) -> None:
        torch = _import_torch()
        check_dimensions(n_features, n_classes)
        hidden = check_hidden(hidden)
        if not np.isfinite(l2) or l2 < 0:
            raise ValueError(f"l2 must be a finite number >= 0, got {l2!r}")
        self._torch = torch
        self.n_features, self.n_classes, self.hidden = int(n_features), int(n_classes), int(hidden)
        self.l2 = float(l2)
        self.seed = seed
        self.net = torch.nn.Sequential(
            torch.nn.Linear(self.n_features, self.hidden, dtype=torch.float64),
            torch.nn.ReLU(),
            torch.nn.Linear(self.hidden, self.n_classes, dtype=torch.float64),
        )
        self.set_weights(initial_weights(self.n_features, self.hidden, self.n_classes, seed))

    # ---- weights ---------------------------------------------------------
    def _params(self) -> list[Any]:
        first, _, second = self.net
        return [first.weight, first.bias, second.weight, second.bias]

    def _shapes(self) -> list[tuple[int, ...]]:
        d, h, k = self.n_features, self.hidden, self.n_classes
        return [(d, h), (h,), (h, k), (k,)]

    def get_weights(self) -> Weights:
        """float64 NumPy copies in the NumPy MLP's layout (weight matrices as (in, out))."""
        out = []
        for i, p in enumerate(self._params()):
            arr = p.detach().cpu().numpy().astype(np.float64, copy=True)
            out.append(arr.T.copy() if i in (0, 2) else arr)
        return out

    def set_weights(self, weights: Weights) -> None:
        """Copy float64 arrays into the network; raise ValueError naming a count or shape mismatch."""
        shapes = self._shapes()
        if len(weights) != len(shapes):
            raise ValueError(f"TorchMLP expects {len(shapes)} weight arrays {list(self.weight_names)}, got {len(weights)}")
        arrays = []
        for i, (w, shape) in enumerate(zip(weights, shapes)):
            arr = np.array(w, dtype=np.float64, copy=True)
            if arr.shape != shape:
                raise ValueError(f"TorchMLP weight {i} ({self.weight_names[i]!r}) has shape {arr.shape}, expected {shape}")
            arrays.append(arr.T.copy() if i in (0, 2) else arr)
        with self._torch.no_grad():
            for p, arr in zip(self._params(), arrays):
                p.copy_(self._torch.from_numpy(arr))

    def num_parameters(self) -> int:
        """Total scalar parameter count."""
        return int(sum(p.numel() for p in self._params()))

    # ---- inputs ----------------------------------------------------------
    def _tensor_X(self, X: np.ndarray) -> Any:
        return self._torch.from_numpy(np.ascontiguousarray(check_X(X, self.n_features)))

    def _tensor_y(self, y: np.ndarray, n: int) -> Any:
        y = np.asarray(y)
        if y.shape != (n,):
            raise ValueError(f"y must have shape ({n},), got {y.shape}")
        if n == 0:
            raise ValueError("loss of an empty dataset is undefined")
        if y.dtype.kind not in "iub" and not np.all(y == np.round(y)):
            raise ValueError("y must hold integer class indices")
        y = y.astype(np.int64)
        if y.min() < 0 or y.max() >= self.n_classes:
            raise ValueError(f"y must hold class indices in 0..{self.n_classes - 1}")
        return self._torch.from_numpy(y)

    # ---- predictions, loss, gradient --------------------------------------
    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Softmax of the logits, shape (n, n_classes)."""
        with self._torch.no_grad():
            return self._torch.softmax(self.net(self._tensor_X(X)), dim=1).numpy()

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Argmax of the logits."""
        with self._torch.no_grad():
            return self.net(self._tensor_X(X)).argmax(dim=1).numpy()

    def _objective(self, X: np.ndarray, y: np.ndarray) -> Any:
        Xt = self._tensor_X(X)
        yt = self._tensor_y(y, Xt.shape[0])
        value = self._torch.nn.functional.cross_entropy(self.net(Xt), yt)
        if self.l2 != 0.0:
            first, _, second = self.net
            value = value + 0.5 * self.l2 * (first.weight.pow(2).sum() + second.weight.pow(2).sum())
        return value

    def loss(self, X: np.ndarray, y: np.ndarray) -> float:
        """Mean cross-entropy plus l2/2 * (||W1||^2 + ||W2||^2)."""
        with self._torch.no_grad():
            return float(self._objective(X, y))

    def grad(self, X: np.ndarray, y: np.ndarray) -> Weights:
        """Autograd's gradient of `loss`, as float64 arrays in `get_weights()` order."""
        params = self._params()
        grads = self._torch.autograd.grad(self._objective(X, y), params)
        return [g.numpy().T.copy() if i in (0, 2) else g.numpy().copy() for i, g in enumerate(grads)]

    def __repr__(self) -> str:
        return (
            f"TorchMLP(n_features={self.n_features}, n_classes={self.n_classes}, hidden={self.hidden}, "
            f"l2={self.l2}, seed={self.seed})"
        )
