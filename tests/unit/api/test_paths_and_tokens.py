"""Path checks, submit-token hashing and claims, FEM's host parameters: pure pieces."""

import pytest

from fedpe.api.idempotency import SubmitTokens, request_sha256
from fedpe.api.paths import safe_component, safe_relative
from fedpe.api.services.jobs import apply_nodes
from fedpe.errors import Conflict, InvalidArgument
from flows.spec import TaskSpec, ToolSpec

HEALTH = ToolSpec(id="health-check", name="h", description="", mode="distributed", tasks=[
    TaskSpec(id="health-check", name="h", tool="health-check", role="worker", description="")])
FLCORE = ToolSpec(id="flcore", name="f", description="", mode="federated", single_role=False, tasks=[
    TaskSpec(id="flcore-server", name="s", tool="flcore", role="server", description=""),
    TaskSpec(id="flcore-client", name="c", tool="flcore", role="client", description="")])


@pytest.mark.parametrize("path", ["../x", "a/../../x", "/etc/passwd", "a//b", "./a", "a\\..\\b", "", "a/", "C:x",
                                  "a\x00b", ".."])
def test_paths_that_could_escape_are_refused(path):
    with pytest.raises(InvalidArgument) as info:
        safe_relative(path)
    assert info.value.field == "file"


def test_relative_paths_inside_the_folder_pass():
    assert safe_relative("health.json") == ["health.json"]
    assert safe_relative("checkpoints/round-0001.npz") == ["checkpoints", "round-0001.npz"]
    assert safe_relative("..hidden") == ["..hidden"]


@pytest.mark.parametrize("name", ["..", ".", "", "a/b", "a\\b"])
def test_host_names_are_single_components(name):
    with pytest.raises(InvalidArgument):
        safe_component(name, field="node")


def test_the_request_hash_ignores_key_order_and_spacing():
    a = request_sha256("flcore", {"server": "a", "clients": ["b", "c"], "strategy": {"name": "fedavg", "mu": 0.1}})
    b = request_sha256("flcore", {"strategy": {"mu": 0.1, "name": "fedavg"}, "clients": ["b", "c"], "server": "a"})

    assert a == b
    assert a != request_sha256("flcore", {"server": "a", "clients": ["c", "b"]})
    assert a != request_sha256("health-check", {"server": "a", "clients": ["b", "c"], "strategy": {"name": "fedavg",
                                                                                                 "mu": 0.1}})


def test_a_submit_token_is_claimed_once_per_user(tmp_path):
    tokens = SubmitTokens(tmp_path)
    digest = request_sha256("health-check", {})

    first = tokens.claim("alice", "t1", digest)
    busy = tokens.claim("alice", "t1", digest)
    tokens.record("alice", "t1", "run-1")
    done = tokens.claim("alice", "t1", digest)
    other_user = tokens.claim("bob", "t1", digest)

    assert (first.state, busy.state, done.state, done.execution_id, other_user.state) == (
        "new", "busy", "done", "run-1", "new")
    with pytest.raises(Conflict):
        tokens.claim("alice", "t1", request_sha256("health-check", {"hosts": ["a"]}))
    tokens.release("bob", "t1")
    assert tokens.claim("bob", "t1", digest).state == "new"
    assert tokens.forget_execution("run-1") == 1
    assert tokens.claim("alice", "t1", digest).state == "new"


def test_fem_nodes_map_onto_the_flow_parameters():
    assert apply_nodes(HEALTH, {"hosts"}, {}, None, ["b", "c"]) == {"hosts": ["b", "c"]}
    assert apply_nodes(HEALTH, {"hosts"}, {}, "a", ["b", "a"]) == {"hosts": ["a", "b"]}
    assert apply_nodes(HEALTH, {"hosts"}, {"hosts": ["c", "b"]}, None, ["b", "c"]) == {"hosts": ["b", "c"]}
    assert apply_nodes(FLCORE, {"server", "clients", "rounds"}, {"rounds": 2}, "a", ["b", "c"]) == {
        "rounds": 2, "server": "a", "clients": ["b", "c"]}
    assert apply_nodes(FLCORE, {"server", "clients"}, {"server": "a"}, "a", None) == {"server": "a"}


def test_fem_names_of_flcore_parameters_and_models_become_fedpes():
    props = {"server", "clients", "features", "target", "model"}

    assert apply_nodes(FLCORE, props, {"train_labels": "age  sex,bmi age", "target_label": "y"}, "a", ["b"]) == {
        "server": "a", "clients": ["b"], "features": ["age", "sex", "bmi"], "target": "y", "model": "random_forest"}
    assert apply_nodes(FLCORE, props, {"train_labels": ["age", "bmi"], "features": ["age", "bmi"]}, None, None) == {
        "features": ["age", "bmi"], "model": "random_forest"}
    for fem, ours in (("xgb", "xgboost"), ("lsvc", "linear_svm"), ("nn", "mlp"), ("logistic_regression", "logreg"),
                      ("random_forest", "random_forest"), ("weighted_random_forest", "weighted_random_forest")):
        assert apply_nodes(FLCORE, props, {"model": fem}, None, None) == {"model": ours}
    assert apply_nodes(FLCORE, props, {"model": {"name": "xgb", "training": "cyclic"}}, None, None) == {
        "model": {"name": "xgboost", "training": "cyclic"}}
    assert apply_nodes(HEALTH, {"hosts"}, {"model": "xgb"}, None, None) == {"model": "xgb"}  # not flcore's: untouched


def test_a_fem_job_that_names_no_model_trains_fems_default_a_random_forest():
    props = {"server", "clients", "model", "rounds"}

    assert apply_nodes(FLCORE, props, {"rounds": 3}, "a", ["b"])["model"] == "random_forest"
    assert apply_nodes(FLCORE, props, {"model": None}, "a", ["b"])["model"] == "random_forest"
    assert apply_nodes(FLCORE, props, {"model": "logreg"}, "a", ["b"])["model"] == "logreg"
    assert "model" not in apply_nodes(HEALTH, {"hosts"}, {}, None, ["b"])


def test_fem_names_given_twice_and_different_are_a_422_naming_fems_field():
    with pytest.raises(InvalidArgument) as info:
        apply_nodes(FLCORE, {"features"}, {"train_labels": "a b", "features": ["a"]}, None, None)
    assert info.value.field == "train_labels"
    with pytest.raises(InvalidArgument) as info:
        apply_nodes(FLCORE, {"features"}, {"train_labels": ["a", ""]}, None, None)
    assert info.value.field == "train_labels"


@pytest.mark.parametrize("spec, props, body, server, clients, field", [
    (HEALTH, {"hosts"}, {"hosts": ["a"]}, None, ["b"], "client_nodes"),
    (HEALTH, {"hosts"}, {"hosts": "a"}, None, ["a"], "client_nodes"),
    (FLCORE, {"server", "clients"}, {"server": "b"}, "a", None, "server_node"),
    (FLCORE, {"server", "clients"}, {"clients": ["b"]}, None, ["c"], "client_nodes"),
    (HEALTH, {"steps"}, {}, "a", None, "server_node"),
])
def test_nodes_given_twice_and_different_are_a_422_naming_the_query_field(spec, props, body, server, clients, field):
    with pytest.raises(InvalidArgument) as info:
        apply_nodes(spec, props, body, server, clients)
    assert info.value.field == field
