"""A tool's parameters are checked against its flow signature and its own cross-field rules,
and every refusal names one field in one line (no servers: hosts and catalogues are given)."""

import pytest

from fedpe.errors import InvalidArgument
from flows import catalog

CONNECTED = {"hospital-a": "tcp://a", "hospital-b": "tcp://b", "hospital-c": "tcp://c"}
COLUMNS = [{"name": "age", "dtype": "float"}, {"name": "sex", "dtype": "string"}, {"name": "target", "dtype": "int"}]
RECORDS = {h: {"datasets": [{"name": "breast-cancer", "columns": COLUMNS}]} for h in CONNECTED}
TRAINING = {"server": "hospital-a", "clients": ["hospital-b", "hospital-c"]}


def refusal(tool: str, parameters: dict) -> InvalidArgument:
    with pytest.raises(InvalidArgument) as caught:
        catalog.validate(tool, parameters, connected=CONNECTED, disabled=[], records=RECORDS,
                         store_url="file:///srv/store")
    return caught.value


@pytest.mark.parametrize(("tool", "parameters", "field", "words"), [
    ("flcore", {**TRAINING, "rounds": 0}, "rounds", "greater than or equal to 1"),
    ("flcore", {**TRAINING, "learning_rate": float("nan")}, "learning_rate", "finite number"),
    ("flcore", {"server": "hospital-a"}, "clients", "required"),
    ("flcore", {**TRAINING, "bogus": 1}, "bogus", "unknown parameter"),
    ("flcore", {**TRAINING, "strategy": {"name": "fedprox", "mu": -1}}, "strategy.mu", "greater than or equal to 0"),
    ("flcore", {**TRAINING, "strategy": {"name": "fedfoo"}}, "strategy.name", "one of: fedavg"),
    ("flcore", {**TRAINING, "strategy": {"name": "krum", "f": 1}}, "strategy.f", "at least 5 clients"),
    ("flcore", {**TRAINING, "initial_weights": "file:///etc/passwd"}, "initial_weights", "not inside the store"),
    ("flcore", {**TRAINING, "initial_weights": "e1/hospital-a/metrics.csv"}, "initial_weights", "not a model file"),
    ("fed-stats", {"columns": ["nosuch"]}, "columns", "'nosuch' is not in breast-cancer"),
    ("fed-stats", {"columns": ["sex"]}, "columns", "not numeric"),
    ("pipeline", {"steps": [{"tool": "flcore", "parameters": {**TRAINING, "rounds": 0}}]},
     "steps.0.parameters.rounds", "greater than or equal to 1"),
    ("pipeline", {"steps": [{"tool": "health-check"}, {"tool": "health-check"}]}, "steps.1.tool", "already step 0"),
])
def test_a_bad_parameter_is_refused_naming_its_field(tool, parameters, field, words):
    error = refusal(tool, parameters)

    assert error.field == field and words in error.message, error.message
    assert "\n" not in error.message and error.message.startswith(field.split(".")[0])


def test_good_parameters_come_back_json_ready_and_only_those_given():
    checked = catalog.validate("flcore", {**TRAINING, "strategy": {"name": "fedprox", "mu": 0.1},
                                          "initial_weights": "e1/hospital-a/checkpoints/round-0002.npz"},
                               connected=CONNECTED, disabled=[], records=RECORDS, store_url="file:///srv/store")

    assert checked == {**TRAINING, "strategy": {"name": "fedprox", "mu": 0.1},
                       "initial_weights": "e1/hospital-a/checkpoints/round-0002.npz"}
