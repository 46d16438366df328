"""The PyTorch MLP computes what the NumPy MLP computes, and trains through local_train."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from tasks.models import MLP
from tasks.models.registry import build_model, registry
from tasks.models.torch_mlp import TORCH_EXTRA_HINT, TorchMLP, torch_available

needs_torch = pytest.mark.skipif(importlib.util.find_spec("torch") is None,
                                 reason='torch is an optional extra: pip install -e ".[torch]"')


@needs_torch
def test_same_init_loss_grad_and_proba_as_numpy_mlp() -> None:
    # Prepare
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(25, 4)), rng.integers(0, 3, size=25)
    ours, ref = TorchMLP(4, 3, hidden=6, l2=0.1, seed=3), MLP(4, 3, hidden=6, l2=0.1, seed=3)
    # Execute
    weights = ours.get_weights()
    # Assert
    assert all(w.dtype == np.float64 for w in weights)
    for a, b in zip(weights, ref.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert ours.loss(X, y) == pytest.approx(ref.loss(X, y), abs=1e-12)
    for a, b in zip(ours.grad(X, y), ref.grad(X, y)):
        np.testing.assert_allclose(a, b, atol=1e-12)
    np.testing.assert_allclose(ours.predict_proba(X), ref.predict_proba(X), atol=1e-12)
    assert ours.num_parameters() == ref.num_parameters()


@needs_torch
def test_set_weights_round_trips_and_checks_shapes() -> None:
    # Prepare
    model = TorchMLP(3, 2, hidden=4)
    new = [np.full(w.shape, float(i)) for i, w in enumerate(model.get_weights())]
    # Execute
    model.set_weights(new)
    new[0][0, 0] = 99.0  # the model keeps its own copy
    # Assert
    assert model.get_weights()[0][0, 0] == 0.0 and model.get_weights()[3].tolist() == [3.0, 3.0]
    with pytest.raises(ValueError, match="W2"):
        model.set_weights([new[0], new[1], np.zeros((2, 4)), new[3]])


@needs_torch
def test_fedprox_local_train_runs_it_unchanged_and_like_numpy() -> None:
    # Prepare
    from tasks.training import local_train

    rng = np.random.default_rng(1)
    X, y = rng.normal(size=(120, 5)), rng.integers(0, 3, size=120)
    ours, ref = build_model("torch_mlp", 5, 3, seed=0, hidden=8), MLP(5, 3, seed=0, hidden=8)
    start = ours.get_weights()
    kwargs = dict(epochs=3, batch_size=16, learning_rate=0.1, proximal_mu=0.1, global_weights=start)
    # Execute
    result = local_train(ours, X, y, rng=np.random.default_rng(0), **kwargs)
    local_train(ref, X, y, rng=np.random.default_rng(0), **kwargs)
    # Assert
    assert result.steps == 3 * 8 and result.loss_after < result.loss_before
    for a, b in zip(ours.get_weights(), ref.get_weights()):
        np.testing.assert_allclose(a, b, atol=1e-10)


def test_registered_without_torch_and_error_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    # Prepare: make `import torch` fail as on a host without the extra
    import builtins

    real_import = builtins.__import__

    def no_torch(name, *args, **kwargs):
        if name == "torch" or name.startswith("torch."):
            raise ImportError("No module named 'torch'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_torch)
    # Execute / Assert
    assert registry["torch_mlp"] is TorchMLP
    with pytest.raises(ValueError, match=r"torch_mlp.*pip install -e \"\.\[torch\]\"") as info:
        build_model("torch_mlp", 4, 2)
    assert getattr(info.value, "field", None) == "model"
    assert TORCH_EXTRA_HINT in str(info.value)
    assert isinstance(torch_available(), bool)
