"""The run form from a tool's parameter schema and back: kinds, typed values, problems by field."""

from __future__ import annotations

import pytest

from fedpe.api.services import tools
from fedpe.dashboard import forms


@pytest.fixture(scope="module")
def flcore():
    return forms.fields(tools.get("flcore")[1])


def by_path(form_fields) -> dict[str, forms.Field]:
    return {f.path: f for f in forms.all_fields(form_fields)}


def test_each_property_of_flcore_gets_the_input_its_type_calls_for(flcore):
    fields = by_path(flcore)

    assert [f.path for f in flcore][:3] == ["server", "clients", "dataset"]  # the signature's order
    assert (fields["server"].kind, fields["clients"].kind, fields["dataset"].kind) == ("host", "hosts", "dataset")
    assert fields["server"].required and fields["clients"].required and not fields["rounds"].required
    assert fields["model"].kind == "variant" and fields["model"].default == "logreg"
    assert [v.name for v in fields["model"].variants] == ["logreg", "mlp", "linear_svm", "elastic_net", "cox",
                                                           "torch_mlp", "random_forest", "weighted_random_forest",
                                                           "xgboost"]
    mlp = next(v for v in fields["model"].variants if v.name == "mlp")
    assert [(f.input, f.kind) for f in mlp.fields] == [("model.mlp.hidden", "integer"), ("model.mlp.l2", "number")]
    assert fields["strategy"].kind == "variant" and fields["strategy"].default == "fedavg"
    assert {v.name for v in fields["strategy"].variants} >= {"fedavg", "fedprox", "krum", "scaffold"}
    assert fields["strategy.mu"].input == "strategy.fedprox.mu" and fields["strategy.mu"].kind == "number"
    assert fields["dp"].kind == "object" and fields["dp.noise_multiplier"].input == "dp.noise_multiplier"
    assert fields["batch_size"].kind == "integer" and fields["batch_size"].nullable
    assert fields["initial_weights"].kind == "string" and fields["initial_weights"].nullable
    assert fields["rounds"].limits == {"minimum": 1, "maximum": 1000}


def test_other_tools_get_their_kinds_too():
    health = by_path(forms.fields(tools.get("health-check")[1]))
    stats = by_path(forms.fields(tools.get("fed-stats")[1]))
    pipeline = by_path(forms.fields(tools.get("pipeline")[1]))

    assert health["hosts"].kind == "hosts" and health["hosts"].nullable and not health["hosts"].required
    assert stats["columns"].kind == "strings" and stats["bins"].kind == "integer"
    assert pipeline["steps"].kind == "json" and pipeline["steps"].required


def test_a_filled_form_reads_as_typed_parameters_of_the_chosen_strategy_only(flcore):
    values = {"server": ["hospital-a"], "clients": ["hospital-b", "hospital-c"], "dataset": ["breast-cancer"],
              "model": ["mlp"], "model.mlp.hidden": ["16"], "model.random_forest.max_depth": ["3"],
              "rounds": ["7"], "learning_rate": ["0.05"],
              "batch_size": [""], "strategy": ["fedprox"], "strategy.fedprox.mu": ["0.2"],
              "strategy.fedadam.server_lr": ["0.3"], "dp.noise_multiplier": ["2"]}

    params, problems = forms.parameters(flcore, values)

    assert problems == []
    assert params == {"server": "hospital-a", "clients": ["hospital-b", "hospital-c"], "dataset": "breast-cancer",
                      "model": {"name": "mlp", "hidden": 16}, "rounds": 7, "learning_rate": 0.05,
                      "missing_indicators": False,  # a checkbox left off reads as False
                      "strategy": {"name": "fedprox", "mu": 0.2}}  # dp is off: its fields are not read


def test_an_object_switched_on_reads_its_fields(flcore):
    values = {"server": ["hospital-a"], "clients": ["hospital-b"], "dp": ["on"], "dp.noise_multiplier": ["1.5"],
              "dp.adaptive": ["on"], "dp.delta": ["1e-06"]}

    params, problems = forms.parameters(flcore, values)

    assert problems == []
    assert params["dp"] == {"noise_multiplier": 1.5, "adaptive": True, "delta": 1e-06}


def test_values_that_do_not_read_are_problems_naming_their_field(flcore):
    values = {"clients": [], "rounds": ["seven"], "learning_rate": ["inf"], "strategy": ["fedfoo"],
              "model": ["tree"]}

    _, problems = forms.parameters(flcore, values)

    messages = {p.field: p.message for p in problems}
    assert messages["server"] == "server: required" and messages["clients"] == "clients: required"
    assert messages["rounds"] == "rounds: 'seven' is not a whole number"
    assert messages["learning_rate"] == "learning_rate: must be a finite number"
    assert messages["strategy.name"].startswith("strategy.name: one of fedavg, fedavgm, fedprox")
    assert messages["model.name"].startswith("model.name: one of logreg, mlp, linear_svm")


def test_a_pipelines_steps_are_json_and_bad_json_says_where(flcore):
    pipeline = forms.fields(tools.get("pipeline")[1])

    good, ok = forms.parameters(pipeline, {"steps": ['[{"tool": "health-check"}]']})
    _, bad = forms.parameters(pipeline, {"steps": ['[{"tool": ']})

    assert ok == [] and good == {"steps": [{"tool": "health-check"}]}
    assert bad[0].field == "steps" and "not valid JSON" in bad[0].message and "line 1" in bad[0].message


def test_a_problem_of_a_strategy_option_shows_at_the_chosen_tabs_input(flcore):
    values = {"strategy": ["fedprox"]}

    assert forms.slot(flcore, values, "strategy.mu") == "strategy.fedprox.mu"
    assert forms.slot(flcore, values, "strategy.name") == "strategy"
    assert forms.slot(flcore, values, "dp.delta") == "dp.delta"
    assert forms.slot(flcore, values, "clients") == "clients"
    assert forms.slot(flcore, values, "steps.0.tool") is None and forms.slot(flcore, values, None) is None


def test_an_executions_parameters_fill_the_form_and_read_back_the_same(flcore):
    params = {"server": "hospital-a", "clients": ["hospital-a", "hospital-b"], "model": {"name": "logreg", "l2": 0.0},
              "rounds": 3,
              "strategy": {"name": "krum", "f": 0}, "dp": {"noise_multiplier": 0.5, "adaptive": False},
              "batch_size": 32}

    values = {**forms.initial(flcore), **forms.filled(flcore, params)}
    again, problems = forms.parameters(flcore, values)

    assert problems == []
    assert {k: again[k] for k in params if k != "dp"} == {k: v for k, v in params.items() if k != "dp"}
    assert again["dp"].items() >= params["dp"].items()  # the other options at their defaults, as shown


def test_the_initial_form_shows_the_defaults(flcore):
    values = forms.initial(flcore)

    assert values["rounds"] == ["20"] and values["strategy"] == ["fedavg"] and values["model"] == ["logreg"]
    assert values["strategy.fedprox.mu"] == ["0.01"] and "server" not in values and "dp" not in values
