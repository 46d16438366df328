"""The FEM status list from (task, host, state) tuples: the DESIGN.md rule, case by case."""

from flows.spec import TaskSpec, ToolSpec

from fedpe.api.status import Observed, Slot, expected_slots, status_list, status_of

FLCORE = ToolSpec(id="flcore", name="flcore", description="", mode="federated", single_role=False, tasks=[
    TaskSpec(id="flcore-server", name="s", tool="flcore", role="server", description=""),
    TaskSpec(id="flcore-client", name="c", tool="flcore", role="client", description=""),
])
HEALTH = ToolSpec(id="health-check", name="h", description="", mode="distributed", tasks=[
    TaskSpec(id="health-check", name="h", tool="health-check", role="worker", description=""),
])
SPECS = {"flcore": FLCORE, "health-check": HEALTH}
FL_PARAMS = {"server": "a", "clients": ["b", "c"]}


def _statuses(entries):
    return [(e["task"], e["node"], e["status"]) for e in entries]


def _fl(observed, flow):
    return status_list(expected_slots("flcore", FL_PARAMS, SPECS.__getitem__), observed, flow)


def _states(entries):
    return [(e["node"], e["status"], e["state"]) for e in entries]


def test_every_entry_exists_from_submit_and_reads_running_with_its_role_pending():
    entries = _fl([], "SCHEDULED")

    assert _states(entries) == [("a", "running", "pending"), ("b", "running", "pending"), ("c", "running", "pending")]


def test_a_fem_client_never_reads_a_live_job_as_finished():
    """FEM's clients stop when no entry reads running: every live flow state, any role states."""
    role_states = ["PENDING", "RUNNING", "COMPLETED", "FAILED", "CRASHED", None]
    for flow in ("SCHEDULED", "PENDING", "RUNNING", "PAUSED", "CANCELLING"):
        for server in role_states:
            for client in role_states:
                observed = [Observed(t, h, st, i, i + 1 if st in ("COMPLETED", "FAILED", "CRASHED") else None)
                            for i, (t, h, st) in enumerate([("flcore-server", "a", server), ("flcore-client", "b", client),
                                                            ("flcore-client", "c", client)]) if st]
                assert any(e["status"] == "running" for e in _fl(observed, flow)), (flow, server, client)
        assert [e["status"] for e in status_list([], [], flow)] == ["running"]


def test_no_entry_reads_running_once_the_flow_has_ended():
    for flow in ("COMPLETED", "FAILED", "CRASHED", "CANCELLED"):
        for role in ("PENDING", "RUNNING", "COMPLETED", None):
            observed = [Observed("flcore-server", "a", role, 0)] if role else []
            entries = _fl(observed, flow)
            assert not any(e["status"] == "running" or e["state"] in ("pending", "running") for e in entries), flow


def test_server_stays_running_while_the_flow_lives_even_when_its_task_ended():
    observed = [Observed("flcore-server", "a", "COMPLETED", 1, 5), Observed("flcore-client", "b", "COMPLETED", 2, 4),
                Observed("flcore-client", "c", "COMPLETED", 3, 4)]

    entries = _fl(observed, "RUNNING")

    assert _statuses(entries)[0] == ("flcore-server", "a", "running")
    assert [e["status"] for e in entries[1:]] == ["completed", "completed"]


def test_paused_and_cancelling_read_as_running_crashed_as_failed():
    assert status_of("PAUSED") == status_of("CANCELLING") == "running"
    assert status_of("CRASHED") == "failed"
    entries = _fl([Observed("flcore-server", "a", "PAUSED", 0), Observed("flcore-client", "b", "CRASHED", 1, 2)],
                  "CANCELLING")
    assert _states(entries) == [("a", "running", "running"), ("b", "failed", "failed"), ("c", "running", "pending")]


def test_leftovers_take_the_final_state_of_the_flow():
    observed = [Observed("flcore-server", "a", "RUNNING", 1), Observed("flcore-client", "b", "COMPLETED", 2, 3)]

    entries = _fl(observed, "CANCELLED")

    assert _statuses(entries) == [("flcore-server", "a", "cancelled"), ("flcore-client", "b", "completed"),
                                  ("flcore-client", "c", "cancelled")]


def test_a_failed_flow_fails_its_server_entry():
    observed = [Observed("flcore-server", "a", "COMPLETED", 1, 9)]

    assert _fl(observed, "FAILED")[0]["status"] == "failed"


def test_single_role_tool_never_reads_finished_before_the_flow_ends():
    slots = expected_slots("health-check", {"hosts": ["a", "b"]}, SPECS.__getitem__)
    observed = [Observed("health-check", "a", "COMPLETED", 1, 3), Observed("health-check", "b", "COMPLETED", 2, 4)]

    live = status_list(slots, observed, "RUNNING")
    done = status_list(slots, observed, "COMPLETED")

    assert _statuses(live) == [("health-check", "a", "completed"), ("health-check", "b", "running")]
    assert _statuses(done) == [("health-check", "a", "completed"), ("health-check", "b", "completed")]


def test_task_runs_nobody_expected_are_listed_and_an_empty_live_run_is_not_finished():
    observed = [Observed("health-check", "z", "RUNNING", 1)]

    assert _statuses(status_list([], observed, "RUNNING")) == [("health-check", "z", "running")]
    assert [(e["status"], e["state"]) for e in status_list([], [], "PENDING")] == [("running", "pending")]


def test_pipeline_parts_are_filled_in_start_order():
    params = {"steps": [{"tool": "health-check", "parameters": {"hosts": ["a"]}},
                        {"tool": "flcore", "parameters": FL_PARAMS},
                        {"tool": "health-check", "parameters": {"hosts": ["a"]}}]}
    slots = expected_slots("pipeline", params, SPECS.__getitem__)
    observed = [Observed("health-check", "a", "COMPLETED", 1, 2), Observed("health-check", "a", "RUNNING", 9)]

    entries = status_list(slots, observed, "RUNNING")

    assert [(e["part"], e["task"], e["node"], e["status"], e["state"]) for e in entries] == [
        (0, "health-check", "a", "completed", "completed"), (1, "flcore-server", "a", "running", "pending"),
        (1, "flcore-client", "b", "running", "pending"), (1, "flcore-client", "c", "running", "pending"),
        (2, "health-check", "a", "running", "running")]


def test_unknown_tools_expect_nothing():
    assert expected_slots("nope", {"hosts": ["a"]}, SPECS.__getitem__) == []
    assert Slot(0, "t", "worker", "a").host == "a"
