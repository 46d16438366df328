"""A host's DP floor decided on the host: no noise is no privacy, and the whole plan counts."""

import pytest

from tasks.policy import FedStatsPolicy, FlcorePolicy, HostPolicy, decide, host_dp


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

    mine = host_dp(FlcorePolicy(max_epsilon=8.0), dp)
    assert mine.epsilon(50) > 50  # q=1, sigma=1, 50 rounds: about 57 (DESIGN.md)
    refused = flcore_client({"max_epsilon": 8.0}, dp, rounds=50)
    assert not refused.allowed and refused.rule == "flcore.max_epsilon"
    assert not flcore_client({"max_epsilon": 8.0}, {"noise_multiplier": 0, "clipping_norm": 1.0}).allowed
    # a budget is a privacy floor: no DP at all is refused, not waved through
    assert flcore_client({"max_epsilon": 8.0}, None).rule == "flcore.require_dp"


def test_a_hosts_own_dp_takes_its_floor_and_accounts_as_the_server_sees_it():
    from tasks.privacy import PrivacyAccountant

    mine = host_dp(FlcorePolicy(require_dp=True, noise_multiplier=2.0, clipping_norm=0.5),
                   {"noise_multiplier": 1.0, "clipping_norm": 3.0, "delta": 1e-6})
    assert (mine.noise_multiplier, mine.clipping_norm, mine.delta) == (2.0, 0.5, 1e-6)
    # sampling rate 1: the host knows when it was asked, so no amplification by sampling
    assert mine.epsilon(7) == PrivacyAccountant(2.0, 1.0, 1e-6).epsilon(7)
    assert host_dp(FlcorePolicy(), {"noise_multiplier": 1.0}) is None  # no floor: the host adds nothing
    # its own noise floor makes a job asking for none private all the same
    assert flcore_client({"require_dp": True, "noise_multiplier": 1.5}, {"noise_multiplier": 0.0}).allowed


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
    from tasks.host.client import CallRefused, ClientTrainer

    client = object.__new__(ClientTrainer)  # the pure rules only: no data, no context
    client.host, client.planned_rounds, client.calls = "hospital-b", 2, {"fit": 0, "evaluate": 0, "final": 0}
    client.spec = type("Spec", (), {"dp": DPConfig(noise_multiplier=1.0, clipping_norm=1.0)})()
    client.dp = None  # no privacy floor of its own: it clips to the plan it accepted

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


def private_client(policy: FlcorePolicy, planned_rounds: int = 3, records: list | None = None):
    """A ClientTrainer with only what its DP rules read: no data, no context."""
    import numpy as np

    from tasks.privacy import DPConfig
    from tasks.host.client import ClientTrainer

    client = object.__new__(ClientTrainer)
    client.host, client.planned_rounds, client.calls = "hospital-b", planned_rounds, {"fit": 0, "evaluate": 0, "final": 0}
    client.spec = type("Spec", (), {"dp": DPConfig(noise_multiplier=1.0, clipping_norm=1.0)})()
    client.dp = host_dp(policy, client.spec.dp.model_dump())
    client.noised, client._noise = 0, np.random.default_rng()
    client.context = type("Context", (), {"record": lambda self, event, **f: (records if records is not None else []).append((event, f))})()
    return client


def test_a_private_client_refuses_a_call_without_clipping_and_noises_and_accounts_its_own_updates():
    import numpy as np

    from tasks.privacy import PrivacyAccountant
    from tasks.host.client import CallRefused

    records: list = []
    client = private_client(FlcorePolicy(require_dp=True, max_epsilon=10.0), records=records)
    with pytest.raises(CallRefused, match="without its clipping norm"):
        client._clipping({})
    assert client._clipping({"clipping_norm": 9.0})["clipping_norm"] == 1.0

    weights = [np.zeros((200, 5)), np.zeros(5)]
    epsilons = []
    while True:
        try:
            epsilon = client._spend()
        except CallRefused as refused:
            assert "spent its privacy budget" in str(refused)
            break
        answer = client._noised({"update": weights}, client.noised + 1, 1.0, epsilon)
        epsilons.append(epsilon)
    accountant = PrivacyAccountant(1.0, 1.0, 1e-5)
    assert epsilons == [accountant.epsilon(r) for r in range(1, len(epsilons) + 1)] and epsilons[-1] <= 10.0
    assert len(epsilons) == 3 and accountant.epsilon(len(epsilons) + 1) > 10.0
    assert [f["epsilon"] for e, f in records if e == "privacy"] == [round(e, 6) for e in epsilons]
    noise = np.concatenate([a.ravel() for a in answer["update"]])
    assert 0.9 < noise.std() < 1.1  # z x C = 1 per coordinate, on top of the clipped update
    assert answer["local_noise"] == {"noise_multiplier": 1.0, "clipping_norm": 1.0}


def test_the_server_adds_no_second_noise_when_every_host_noised_its_own_update():
    from tasks.host.aggregation import all_noised

    noised = {"local_noise": {"noise_multiplier": 1.0, "clipping_norm": 1.0}}
    assert all_noised([noised, noised], 1.0)
    assert not all_noised([noised, {}], 1.0)  # one host that did not: the server's noise stays
    assert not all_noised([noised], 1.5) and not all_noised([], 1.0)


def test_a_requested_min_count_never_goes_below_the_hosts_floor():
    floors = FedStatsPolicy(min_count=20)
    assert [floors.floor(asked) for asked in (1, 19, 20, 35, None, "x")] == [20, 20, 20, 35, 20, 20]
    # fed-stats' decision and a training's preparation passes apply the same rule
    decided = decide(HostPolicy.model_validate({"fed_stats": {"min_count": 20}}), "h", tool="fed-stats",
                     task="fed-stats", owner="alice", dataset="d", params={"min_count": 1}, live_roles=0)
    assert decided.adjustments["min_count"] == floors.floor(1)
