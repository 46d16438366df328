"""A host's DP floor decided on the host: no noise is no privacy, and the whole plan counts."""

import pytest

from tasks.policy import HostPolicy, decide, planned_epsilon


def flcore_client(policy: dict, dp: dict | None, rounds: int = 10):
    return decide(HostPolicy.model_validate({"flcore": policy}), "hospital-a", tool="flcore", task="flcore-client",
                  owner="alice", dataset="breast-cancer", params={"dp": dp, "rounds": rounds}, live_roles=0)


@pytest.mark.parametrize("noise", [0, 0.0, -1, None, "lots", float("inf")])
def test_required_dp_without_real_noise_is_refused(noise):
    decision = flcore_client({"require_dp": True}, {"noise_multiplier": noise, "clipping_norm": 1.0})

    assert not decision.allowed and decision.rule == "flcore.require_dp"


def test_required_dp_with_noise_is_allowed():
    assert flcore_client({"require_dp": True}, {"noise_multiplier": 1.0, "clipping_norm": 1.0}).allowed


def test_max_epsilon_counts_every_planned_round_not_the_servers_target():
    dp = {"noise_multiplier": 1.0, "clipping_norm": 1.0, "target_epsilon": 1.0}

    assert planned_epsilon(dp, 50, 1.0) > 50  # q=1, sigma=1, 50 rounds: about 57 (DESIGN.md)
    refused = flcore_client({"max_epsilon": 8.0}, dp, rounds=50)
    assert not refused.allowed and refused.rule == "flcore.max_epsilon"
    assert planned_epsilon({"noise_multiplier": 0}, 5, 1.0) == float("inf")
    assert not flcore_client({"max_epsilon": 8.0}, {"noise_multiplier": 0, "clipping_norm": 1.0}).allowed
