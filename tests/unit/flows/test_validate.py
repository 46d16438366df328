"""A tool's parameters are checked against its flow signature and its own cross-field rules,
and every refusal names one field in one line (no servers: hosts and catalogues are given)."""

import pytest

from fedpe.errors import InvalidArgument
from flows import catalog

CONNECTED = {"hospital-a": "tcp://a", "hospital-b": "tcp://b", "hospital-c": "tcp://c"}
COLUMNS = [{"name": "age", "dtype": "float"}, {"name": "sex", "dtype": "string"}, {"name": "target", "dtype": "int"}]
RECORDS = {h: {"datasets": [{"name": "breast-cancer", "columns": COLUMNS}]} for h in CONNECTED}
TRAINING = {"server": "hospital-a", "clients": ["hospital-b", "hospital-c"]}
CONTEXT = catalog.CheckContext(connected=CONNECTED, records=RECORDS, store_url="file:///srv/store")


def refusal(tool: str, parameters: dict) -> InvalidArgument:
    with pytest.raises(InvalidArgument) as caught:
        catalog.validate(tool, parameters, CONTEXT)
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
    ("flcore", {**TRAINING, "dataset": "digits"}, "dataset",
     "'digits' is not in the catalogue of host hospital-b (it lists: breast-cancer; a dataset added to a host's "
     "data folder is listed within 10 s)"),
    ("fed-stats", {"dataset": "digits"}, "dataset", "'digits' is not in the catalogue of host hospital-a (it lists"),
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
                               CONTEXT)

    assert checked == {**TRAINING, "strategy": {"name": "fedprox", "mu": 0.1},
                       "initial_weights": "e1/hospital-a/checkpoints/round-0002.npz"}


def test_a_pipeline_is_checked_for_its_owner_against_every_steps_hosts():
    from fedpe.errors import PolicyRefused

    records = {**RECORDS, "hospital-c": {**RECORDS["hospital-c"], "policy": {"owners": ["alice"]}}}
    steps = {"steps": [{"tool": "health-check", "parameters": {"hosts": ["hospital-b", "hospital-c"]}},
                       {"tool": "flcore", "parameters": TRAINING}]}

    def as_owner(owner: str) -> dict:
        return catalog.validate("pipeline", steps, catalog.CheckContext(connected=CONNECTED, records=records,
                                                                        owner=owner))

    assert as_owner("alice")["steps"][1]["tool"] == "flcore"  # hospital-c runs alice's pipeline
    with pytest.raises(PolicyRefused) as refused:
        as_owner("mallory")
    assert refused.value.field == "steps.0.parameters.hosts" and "hospital-c" in refused.value.message
