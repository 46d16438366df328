"""Model kinds and the strategies each accepts: mismatches are refused naming the field."""

from __future__ import annotations

import pytest

from tasks.ensembles.registry import registry as ensembles
from tasks.models.kinds import (
    ACCEPTED_STRATEGIES,
    MODEL_KINDS,
    STRATEGY_NAMES,
    combination_problem,
    dependency_problem,
    imputes,
    model_kind,
)
from tasks.models.registry import registry as weight_models
from tasks.privacy import DPConfig
from tasks.strategies.config import KrumConfig, ScaffoldConfig
from tasks.strategies.registry import registry as strategies


def test_every_registered_model_has_a_kind_in_its_registry() -> None:
    # Execute / Assert
    assert {m for m, k in MODEL_KINDS.items() if k == "weights"} == set(weight_models)
    assert {m for m, k in MODEL_KINDS.items() if k == "ensemble"} == set(ensembles)
    assert set(STRATEGY_NAMES) == set(strategies)


def test_weight_models_have_their_gaps_filled_and_ensembles_keep_them() -> None:
    assert {m for m in MODEL_KINDS if imputes(model_kind(m))} == set(weight_models)
    assert not any(imputes(model_kind(m)) for m in ensembles)


@pytest.mark.parametrize(("model", "strategy", "dp", "field", "words"), [
    ("random_forest", "krum", None, "strategy", "krum aggregates weight vectors; random_forest is an ensemble"),
    ("xgboost", ScaffoldConfig(), None, "strategy", "scaffold aggregates weight vectors; xgboost is an ensemble"),
    ("random_forest", {"name": "fedavg"}, DPConfig(), "dp", "random_forest is an ensemble of trees"),
    ("cox", "scaffold", None, "strategy", "cox trains with Newton steps"),
    ("cox", "qfedavg", None, "strategy", "Newton"),
    ("gbm", "fedavg", None, "model", "unknown model 'gbm'"),
    ("logreg", "fedsomething", None, "strategy.name", "unknown strategy"),
])
def test_mismatches_are_named(model, strategy, dp, field, words) -> None:
    # Execute
    problem = combination_problem(model, strategy, dp)
    # Assert
    assert problem is not None and problem[0] == field and words in problem[1]


@pytest.mark.parametrize(("model", "strategy", "dp"), [
    ("random_forest", None, None), ("xgboost", "fedavg", None), ("logreg", KrumConfig(), DPConfig()),
    ("torch_mlp", "scaffold", None), ("cox", "fedprox", DPConfig()), ("elastic_net", "bulyan", None),
])
def test_allowed_combinations_have_no_problem(model, strategy, dp) -> None:
    # Execute / Assert
    assert combination_problem(model, strategy, dp) is None


def test_accepted_strategies_and_kinds() -> None:
    # Execute / Assert
    assert ACCEPTED_STRATEGIES["random_forest"] == ("fedavg",)
    assert ACCEPTED_STRATEGIES["mlp"] == STRATEGY_NAMES
    assert "scaffold" not in ACCEPTED_STRATEGIES["cox"] and "fedprox" in ACCEPTED_STRATEGIES["cox"]
    assert model_kind("xgboost") == "ensemble" and model_kind("cox") == "weights"
    with pytest.raises(ValueError, match="model: unknown model"):
        model_kind("nope")


def test_dependency_problem_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    # Prepare
    import importlib.util

    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    # Execute / Assert
    assert dependency_problem("torch_mlp") == ("model", "torch_mlp needs the optional extra 'torch': pip install -e \".[torch]\"")
    assert dependency_problem("logreg") is None


def test_every_model_config_names_a_model_with_a_kind_and_fems_names_map_onto_them() -> None:
    # Prepare
    from tasks.models.config import FEM_MODEL_NAMES, ModelConfig, model_config_of

    # Execute
    names = [m.model_fields["name"].default for m in ModelConfig.__args__]
    # Assert
    assert set(names) == set(MODEL_KINDS)
    assert model_config_of("weighted_random_forest").name == "weighted_random_forest"
    assert ACCEPTED_STRATEGIES["weighted_random_forest"] == ("fedavg",)
    assert {fem: model_config_of(fem).name for fem in FEM_MODEL_NAMES} == {
        "logistic_regression": "logreg", "lsvc": "linear_svm", "xgb": "xgboost", "nn": "mlp"}
    assert model_config_of({"name": "xgb", "training": "cyclic"}).training == "cyclic"
