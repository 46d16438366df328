"""Config schema (one per strategy) and the name registry."""

import pytest
from pydantic import TypeAdapter, ValidationError

from tasks.strategies import (
    BulyanConfig,
    FedAvg,
    FedAvgConfig,
    FedProx,
    FedProxConfig,
    KrumConfig,
    MultiKrumConfig,
    Scaffold,
    StrategyConfig,
    build_strategy,
    min_clients,
    register_strategy,
    registry,
)

ALL_NAMES = {
    "fedavg", "fedavgm", "fedprox", "fedadam", "fedyogi", "fedadagrad", "qfedavg",
    "fedmedian", "trimmed_mean", "krum", "multikrum", "bulyan", "scaffold",
}


def test_union_selects_member_by_name():
    config = TypeAdapter(StrategyConfig).validate_python({"name": "fedprox", "mu": 0.1})
    assert isinstance(config, FedProxConfig)
    assert config.mu == 0.1


def test_union_reports_out_of_range_field_by_name():
    with pytest.raises(ValidationError) as info:
        TypeAdapter(StrategyConfig).validate_python({"name": "fedprox", "mu": -1})
    errors = {(e["loc"], e["type"]) for e in info.value.errors()}
    assert (("FedProxConfig", "mu"), "greater_than_equal") in errors
    assert "mu" in str(info.value)


def test_union_rejects_unknown_name():
    with pytest.raises(ValidationError):
        TypeAdapter(StrategyConfig).validate_python({"name": "nope"})


def test_models_reject_unknown_fields():
    with pytest.raises(ValidationError, match="extra"):
        FedAvgConfig(mu=0.1)


def test_every_member_has_a_distinct_literal_name_matching_the_registry():
    adapter = TypeAdapter(StrategyConfig)
    names = {adapter.validate_python({"name": n}).name for n in ALL_NAMES}
    assert names == ALL_NAMES == set(registry)


def test_limits_survive_into_json_schema():
    # Prefect forms read these from the schema; Field(default, ge=...) loses them.
    mu = FedProxConfig.model_json_schema()["properties"]["mu"]
    assert (mu["minimum"], mu["maximum"], mu["default"]) == (0, 10, 0.01)


def test_min_clients_by_hand():
    # krum 2f+3 ; multikrum max(2f+3, m) ; bulyan 4f+3 ; others 1
    assert min_clients(FedAvgConfig()) == 1
    assert min_clients(KrumConfig(f=1)) == 5
    assert min_clients(MultiKrumConfig(f=1, m=6)) == 6
    assert min_clients(MultiKrumConfig(f=2, m=2)) == 7
    assert min_clients(BulyanConfig(f=2)) == 11


def test_build_strategy_from_model_or_mapping():
    # Prepare / Execute
    from_model = build_strategy(FedProxConfig(mu=0.3), learning_rate=0.05)
    from_dict = build_strategy({"name": "scaffold"}, learning_rate=0.05, num_clients=7)
    # Assert
    assert isinstance(from_model, FedProx) and from_model.client_config(1) == {"proximal_mu": 0.3}
    assert isinstance(from_dict, Scaffold) and from_dict.num_clients == 7
    assert from_dict.learning_rate == 0.05


def test_registry_is_read_only_and_refuses_silent_overwrite():
    with pytest.raises(TypeError):
        registry["fedavg"] = FedAvg  # type: ignore[index]
    with pytest.raises(ValueError, match="already registered"):
        register_strategy("fedavg", FedProx)
    register_strategy("fedavg", FedAvg, clobber=True)  # same class: state unchanged
    assert registry["fedavg"] is FedAvg
