"""Hosts, tools, tasks and health through the API; admins disable and enable a host."""


import pytest

pytestmark = pytest.mark.integration

HOSTS = ["hospital-a", "hospital-b", "hospital-c"]


def test_hosts_come_from_the_scheduler_with_their_datasets_and_resources(alice):
    hosts = alice.get("/hosts").json()
    one = alice.get("/hosts/hospital-b").json()
    datasets = alice.get("/hosts/datasets").json()
    some = alice.get("/hosts/resources", params={"client_nodes": ["hospital-a", "hospital-c"]}).json()
    every = alice.get("/hosts/resources").json()

    assert [h["name"] for h in hosts] == HOSTS
    assert all(h["state"] == "running" and h["connected"] and h["last_seen"] for h in hosts)
    assert one["name"] == "hospital-b" and one["address"].startswith("fedpe://")
    assert {d["name"] for d in datasets["hospital-a"]} == {"breast-cancer", "digits", "gbsg2"}
    assert sorted(some) == ["hospital-a", "hospital-c"] and sorted(every) == HOSTS
    assert some["hospital-a"]["cpus"] >= 1
    assert alice.get("/hosts/nowhere").status_code == 404
    assert alice.get("/hosts/heartbeat", params={"node_name": "nowhere"}).status_code == 404
    assert alice.get("/hosts/resources", params={"client_nodes": ["nowhere"]}).status_code == 404


def test_a_disabled_host_is_listed_as_such_and_gets_no_new_work(alice, admin):
    assert alice.post("/hosts/hospital-c/disable").status_code == 403
    try:
        disabled = admin.post("/hosts/hospital-c/disable")
        beat = alice.get("/hosts/heartbeat", params={"node_name": "hospital-c"}).json()
        refused = alice.post("/tools/job/health-check", params={"client_nodes": ["hospital-c"]}, json={})
        everywhere = alice.post("/validate", json={"tool": "health-check"}).json()
    finally:
        enabled = admin.post("/hosts/hospital-c/enable")

    assert disabled.status_code == 200 and disabled.json()["disabled_hosts"] == ["hospital-c"]
    assert beat == {"node": "hospital-c", "state": "disabled", "last_seen": beat["last_seen"]}
    assert refused.status_code == 422 and refused.json()["error"]["code"] == "HOST_NOT_AVAILABLE"
    assert everywhere["parameters"]["hosts"] == ["hospital-a", "hospital-b"]
    assert enabled.json() == {"node": "hospital-c", "state": "running", "disabled_hosts": []}


def test_disabled_hosts_live_in_the_federation_block(admin, stack):
    from blocks import Federation

    try:
        admin.post("/hosts/hospital-b/disable")
        assert Federation.load("default").disabled_hosts == ["hospital-b"]
    finally:
        admin.post("/hosts/hospital-b/enable")
    assert Federation.load("default").disabled_hosts == []


def test_tools_and_tasks_describe_themselves(alice):
    tools = alice.get("/tools").json()
    health = alice.get("/tools/health-check").json()
    by_name = alice.get("/tools/name/Health check").json()
    tasks = alice.get("/tasks").json()

    assert "health-check" in [t["id"] for t in tools]
    assert health["mode"] == "distributed" and health["single_role"] is True
    assert health["parameters"]["properties"]["hosts"]
    assert [t["id"] for t in health["tasks"]] == ["health-check"]
    assert by_name["id"] == "health-check"
    assert "health-check" in [t["id"] for t in tasks]
    assert alice.get("/tasks/health-check").json()["role"] == "worker"
    assert alice.get("/tools/nope").status_code == 404
    assert alice.get("/tasks/nope").status_code == 404


def test_health_reports_each_dependency_with_its_response_time(alice):
    health = alice.get("/health").json()
    deps = alice.get("/health/dependencies").json()["dependencies"]

    assert health["status"] == "healthy"
    assert set(health["services"]) == {"prefect", "scheduler", "mlflow", "store"}
    assert all(d["status"] == "connected" and d["response_time_ms"] >= 0 for d in deps.values())
    assert deps["prefect"]["version"]
