"""A host's registration and heartbeats, rebuilt from fedpe's schema before the scheduler reads them."""

import pytest

from fedpe.stack.worker_reports import rewrite

REGISTRATION = {
    "op": "register-worker", "reply": False, "address": "fedpe://127.0.0.1:4000", "status": "running", "nthreads": 2,
    "name": "hospital-a", "now": 1.7e9, "resources": {}, "memory_limit": 2**30, "local_directory": "/tmp/x",
    "services": {"dashboard": 8787}, "nanny": None, "pid": 42, "versions": {"python": "3.11"},
    "metrics": {"memory": 10, "managed_bytes": 0, "spilled_bytes": {"memory": 0, "disk": 0},
                "bandwidth": {"total": 1e8, "workers": {"fedpe://other:1": (1.0, 1)}, "types": {}},
                "digests_total_since_heartbeat": {("x",): 1.0}, "cpu": 3.0, "plugin-metric": "whatever"},
    "extra": {}, "stimulus_id": "s", "server_id": "w",
}


def test_an_honest_registration_keeps_what_the_scheduler_reads_and_drops_the_rest():
    out = rewrite(REGISTRATION)

    assert out["name"] == "hospital-a" and out["address"] == "fedpe://127.0.0.1:4000" and out["nthreads"] == 2
    assert out["metrics"]["memory"] == 10 and out["metrics"]["bandwidth"] == {"total": 1e8, "workers": {}, "types": {}}
    assert out["metrics"]["digests_total_since_heartbeat"] == {} and "plugin-metric" not in out["metrics"]
    assert out["services"] == {} and out["nanny"] is None


def test_missing_metrics_get_dasks_defaults_instead_of_breaking_the_scheduler():
    out = rewrite({**REGISTRATION, "metrics": {}})

    assert out["metrics"]["bandwidth"]["total"] == 100e6 and out["metrics"]["spilled_bytes"] == {"memory": 0, "disk": 0}


@pytest.mark.parametrize("change, field", [
    ({"nanny": "fedpe://hospital-b:1"}, "nanny"),
    ({"extra": {"name": "hospital-b"}}, "extra"),
    ({"resolve_address": False}, "resolve_address"),
    ({"nthreads": 0}, "nthreads"),
    ({"status": "closed"}, "status"),
    ({"metrics": {"memory": -1}}, "memory"),
    ({"metrics": {"cpu": float("nan")}}, "cpu"),
    ({"metrics": "lots"}, "metrics"),
    ({"now": "yesterday"}, "now"),
])
def test_a_registration_out_of_shape_is_refused_naming_the_field(change, field):
    with pytest.raises(ValueError, match=field):
        rewrite({**REGISTRATION, **change})


def test_a_heartbeat_drops_extension_data_and_keeps_only_plain_task_durations():
    out = rewrite({"op": "heartbeat_worker", "reply": True, "address": "fedpe://127.0.0.1:4000", "now": 1.7e9,
                   "metrics": {}, "executing": {"k": 1.5, ("t", 0): 2, "bad": "x", "neg": -1.0},
                   "extensions": {"spans": {"anything": 1}}})

    assert out["executing"] == {"k": 1.5, ("t", 0): 2.0} and out["extensions"] == {}
