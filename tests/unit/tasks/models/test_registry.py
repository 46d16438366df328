"""The registry is the seam for new weight models."""

from __future__ import annotations

import numpy as np
import pytest

import tasks.models.registry as registry_module
from tasks.models import MLP, LogisticRegression
from tasks.models.registry import build_model, register_model, registry


def test_builtin_models_are_registered_and_built() -> None:
    # Prepare / Execute
    logreg = build_model("logreg", 4, 3, l2=0.1)
    mlp = build_model("mlp", 4, 3, seed=5, hidden=7)
    # Assert
    assert set(registry) >= {"logreg", "mlp", "linear_svm", "elastic_net", "cox", "torch_mlp"}
    assert isinstance(logreg, LogisticRegression) and logreg.l2 == 0.1
    assert isinstance(mlp, MLP) and mlp.hidden == 7
    assert all(np.array_equal(a, b) for a, b in zip(mlp.get_weights(), MLP(4, 3, hidden=7, seed=5).get_weights()))


def test_unknown_model_is_named_in_the_error() -> None:
    # Prepare / Execute / Assert
    with pytest.raises(ValueError, match="'nope'.*logreg, mlp"):
        build_model("nope", 2, 2)


def test_registry_view_is_read_only() -> None:
    # Prepare / Execute / Assert
    with pytest.raises(TypeError):
        registry["x"] = LogisticRegression  # type: ignore[index]


def test_register_refuses_overwrite_unless_clobber() -> None:
    # Prepare
    class Tiny(LogisticRegression):
        name = "tiny-test"

    try:
        register_model("tiny-test", Tiny)
        # Execute / Assert
        with pytest.raises(ValueError, match="already registered"):
            register_model("tiny-test", LogisticRegression)
        register_model("tiny-test", LogisticRegression, clobber=True)
        assert type(build_model("tiny-test", 2, 2)) is LogisticRegression
    finally:
        registry_module._registry.pop("tiny-test", None)


def test_new_weight_models_build_with_their_options() -> None:
    # Prepare / Execute
    svm = build_model("linear_svm", 3, 2, multiclass="crammer_singer")
    net = build_model("elastic_net", 3, 2, alpha=0.1, l1_ratio=0.2)
    cox = build_model("cox", 3, 2, l2=0.0)
    # Assert
    assert svm.multiclass == "crammer_singer" and svm.num_parameters() == 8
    assert net.l1 == pytest.approx(0.02) and net.l2 == pytest.approx(0.08)
    assert [w.shape for w in cox.get_weights()] == [(3,)]
