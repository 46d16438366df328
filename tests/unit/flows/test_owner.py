"""Who owns an execution, from its flow run's tags and its deployment's (order carries nothing)."""

from flows.runtime import OWNER_TAG, owner_from_tags

DEPLOYMENT = [f"{OWNER_TAG}admin", "fedpe-tool:flcore"]


def test_the_submitters_tag_beats_the_deployments_whatever_the_order():
    for run_tags in ([f"{OWNER_TAG}admin", f"{OWNER_TAG}alice"], [f"{OWNER_TAG}alice", f"{OWNER_TAG}admin"]):
        assert owner_from_tags(run_tags + ["fedpe-tool:flcore"], DEPLOYMENT) == "alice"


def test_a_run_from_the_ui_or_a_schedule_belongs_to_the_deployments_owner():
    assert owner_from_tags([f"{OWNER_TAG}admin", "fedpe-tool:flcore"], DEPLOYMENT) == "admin"
    assert owner_from_tags([], DEPLOYMENT) == "admin"


def test_a_run_without_a_deployment_or_tags_is_unknown_or_its_own_tag():
    assert owner_from_tags([], []) == "unknown"
    assert owner_from_tags([f"{OWNER_TAG}bob"], []) == "bob"
