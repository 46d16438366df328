"""How `fedpe tools TOOL` names each parameter's type, from the deployment's JSON schema."""

from fedpe.cli.jobs import _kind

SCHEMA = {
    "definitions": {
        "FedAvgConfig": {"properties": {"name": {"const": "fedavg"}}},
        "FedProxConfig": {"properties": {"name": {"default": "fedprox"}, "mu": {"type": "number"}}},
        "DPConfig": {"properties": {"noise_multiplier": {"type": "number"}}},
    },
}


def test_a_union_of_strategies_reads_as_their_names():
    prop = {"anyOf": [{"$ref": "#/definitions/FedAvgConfig"}, {"$ref": "#/definitions/FedProxConfig"}]}
    assert _kind(prop, SCHEMA) == "fedavg | fedprox"


def test_models_without_a_name_arrays_enums_and_optionals():
    assert _kind({"anyOf": [{"$ref": "#/definitions/DPConfig"}, {"type": "null"}]}, SCHEMA) == "DPConfig | null"
    assert _kind({"type": "array", "items": {"type": "string"}}, SCHEMA) == "array of string"
    assert _kind({"enum": ["logreg", "mlp"], "type": "string"}, SCHEMA) == "logreg | mlp"
    assert _kind({}, SCHEMA) == "-"
