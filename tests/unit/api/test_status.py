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


def test_every_entry_exists_from_submit_as_pending():
    entries = _fl([], "SCHEDULED")

    assert _statuses(entries) == [("flcore-server", "a", "pending"), ("flcore-client", "b", "pending"),
                                  ("flcore-client", "c", "pending")]


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
    assert _statuses(entries) == [("flcore-server", "a", "running"), ("flcore-client", "b", "failed"),
                                  ("flcore-client", "c", "pending")]


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
    assert [e["status"] for e in status_list([], [], "PENDING")] == ["pending"]


def test_pipeline_parts_are_filled_in_start_order():
    params = {"steps": [{"tool": "health-check", "parameters": {"hosts": ["a"]}},
                        {"tool": "flcore", "parameters": FL_PARAMS},
                        {"tool": "health-check", "parameters": {"hosts": ["a"]}}]}
    slots = expected_slots("pipeline", params, SPECS.__getitem__)
    observed = [Observed("health-check", "a", "COMPLETED", 1, 2), Observed("health-check", "a", "RUNNING", 9)]

    entries = status_list(slots, observed, "RUNNING")

    assert [(e["part"], e["task"], e["node"], e["status"]) for e in entries] == [
        (0, "health-check", "a", "completed"), (1, "flcore-server", "a", "pending"),
        (1, "flcore-client", "b", "pending"), (1, "flcore-client", "c", "pending"),
        (2, "health-check", "a", "running")]


def test_unknown_tools_expect_nothing():
    assert expected_slots("nope", {"hosts": ["a"]}, SPECS.__getitem__) == []
    assert Slot(0, "t", "worker", "a").host == "a"
