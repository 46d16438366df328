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


def test_fed_stats_extremes_are_the_hosts_floor_so_two_requests_cannot_be_differenced():
    import numpy as np
    import pandas as pd

    from tasks.stats import local_ranges, local_summary

    frame = pd.DataFrame({"x": np.random.default_rng(0).normal(size=200)})
    floor = 10
    decided = [decide(HostPolicy.model_validate({"fed_stats": {"min_count": floor}}), "h", tool="fed-stats",
                      task="fed-stats", owner="alice", dataset="d", params={"min_count": k}, live_roles=0)
               for k in (12, 13)]
    assert [d.adjustments["extremes_k"] for d in decided] == [floor, floor]

    releases = [local_ranges(frame, ["x"], min_count=k, extremes_k=floor)["x"] for k in (12, 13)]
    summaries = [local_summary(frame, {"x": [-5, 0, 5]}, min_count=k, extremes_k=floor)["numeric"]["x"]
                 for k in (12, 13)]

    assert releases[0]["min"] == releases[1]["min"] and releases[0]["max"] == releases[1]["max"]
    assert summaries[0]["min"] == summaries[1]["min"] and summaries[0]["max"] == summaries[1]["max"]
    values = np.sort(frame["x"].to_numpy())
    # (13*m13 - 12*m12) would be the 13th smallest value if k followed the request; it does not
    assert releases[0]["min"] == values[:floor].mean()



def test_a_host_answers_only_the_servers_its_policy_names():
    policy = HostPolicy.model_validate({"servers": ["hospital-a"]})

    def client_of(server):
        return decide(policy, "hospital-b", tool="flcore", task="flcore-client", owner="alice", dataset="d",
                      params={}, live_roles=0, server=server)

    assert client_of("hospital-a").allowed
    refused = client_of("hospital-x")
    assert not refused.allowed and refused.rule == "servers" and "hospital-x" in refused.message
    # its own server role is not a client's: the rule does not apply to it
    assert decide(policy, "hospital-b", tool="flcore", task="flcore-server", owner="alice", dataset="d", params={},
                  live_roles=0, server="hospital-b").allowed


def test_a_client_clips_to_its_own_plan_and_answers_only_the_planned_calls():
    from tasks.privacy import DPConfig
    from tasks.roles.client import CallRefused, ClientTrainer

    client = object.__new__(ClientTrainer)  # the pure rules only: no data, no context
    client.host, client.planned_rounds, client.calls = "hospital-b", 2, {"fit": 0, "evaluate": 0, "final": 0}
    client.spec = type("Spec", (), {"dp": DPConfig(noise_multiplier=1.0, clipping_norm=1.0)})()

    assert client._clipping({})["clipping_norm"] == 1.0  # the server asked for none: clipped all the same
    assert client._clipping({"clipping_norm": 50.0})["clipping_norm"] == 1.0  # never looser than the plan
    assert client._clipping({"clipping_norm": 0.5})["clipping_norm"] == 0.5
    client._count("fit", 2)
    client._count("fit", 2)
    with pytest.raises(CallRefused, match="fit at most 2 times"):
        client._count("fit", 2)
    client._count("final", 1)
    with pytest.raises(CallRefused, match="final at most 1 time in"):
        client._count("final", 1)
