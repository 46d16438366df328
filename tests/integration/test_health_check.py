"""health-check through run_deployment on the real federation."""

import json

import pytest
from prefect.deployments import run_deployment

pytestmark = pytest.mark.integration


def test_health_check_runs_on_every_named_host(stack, dask_client):
    # Prepare
    from tasks.hosts import connected_hosts
    from blocks.store import StoreSpec

    addresses = connected_hosts(dask_client)

    # Execute
    flow_run = run_deployment("health-check/default", parameters={"hosts": stack.hosts}, poll_interval=0.25, timeout=180)

    # Assert
    assert flow_run.state.is_completed(), flow_run.state.message
    result = flow_run.state.result()
    assert result.execution_id == str(flow_run.id)
    assert sorted(result.reports) == sorted(stack.hosts)
    store = StoreSpec(url=stack.config.store)
    for host, report in result.reports.items():
        assert report["host"] == host, "the role ran on another worker than the one it was pinned to"
        assert report["worker_address"] == addresses[host]
        assert report["healthy"], report["reachability"]
        assert {"breast-cancer", "digits", "gbsg2"} <= {d["name"] for d in report["datasets"]}
        on_disk = json.loads(store.read_bytes(result.execution_id, host, "health.json"))
        assert on_disk["host"] == host and on_disk["pid"] == report["pid"]


def test_health_check_without_hosts_runs_everywhere(stack):
    flow_run = run_deployment("health-check/default", parameters={}, poll_interval=0.25, timeout=180)

    assert flow_run.state.is_completed(), flow_run.state.message
    assert sorted(flow_run.state.result().hosts) == sorted(stack.hosts)


def test_unknown_host_fails_with_a_message_naming_it(stack):
    flow_run = run_deployment("health-check/default", parameters={"hosts": ["hospital-a", "hospital-zz"]},
                              poll_interval=0.25, timeout=180)

    assert flow_run.state.is_failed()
    assert "hospital-zz" in flow_run.state.message
    assert "hosts" in flow_run.state.message


def test_parameters_of_the_wrong_type_are_refused_before_a_run_exists(stack):
    from prefect.exceptions import PrefectHTTPStatusError

    with pytest.raises(PrefectHTTPStatusError) as info:
        run_deployment("health-check/default", parameters={"hosts": "hospital-a"}, timeout=0)

    assert info.value.response.status_code == 409
    assert "hosts" in info.value.response.text


def test_health_check_deployment_has_an_inactive_daily_schedule(stack):
    from prefect import get_client
    from prefect.utilities.asyncutils import run_coro_as_sync

    async def read():
        async with get_client() as client:
            return await client.read_deployment_by_name("health-check/default")

    deployment = run_coro_as_sync(read())
    assert [s.active for s in deployment.schedules] == [False]
    assert deployment.schedules[0].schedule.cron == "0 6 * * *"
    assert "fedpe-owner:admin" in deployment.tags


def test_roles_run_in_a_role_process_of_the_worker_that_ends_after_its_linger_and_starts_again(stack, tmp_path):
    import shutil
    import time

    import psutil
    from federation_helpers import start_extra_host, stop_host

    data = tmp_path / "data"
    shutil.copytree(stack.data_dirs["hospital-c"], data, ignore=shutil.ignore_patterns(".fedpe"))
    host = "hospital-l"
    proc = start_extra_host(stack, host, data, options=("--role-linger", "1"))
    try:
        (worker,) = psutil.Process(proc.pid).children()  # `fedpe host start` became the supervisor
        pids = []
        for _ in range(2):
            flow_run = run_deployment("health-check/default", parameters={"hosts": [host]}, poll_interval=0.25,
                                      timeout=180)
            assert flow_run.state.is_completed(), flow_run.state.message
            pid = flow_run.state.result().reports[host]["pid"]
            pids.append(pid)
            role_process = psutil.Process(pid)
            assert role_process.ppid() == worker.pid and "tasks.host.role_main" in role_process.cmdline()
            deadline = time.monotonic() + 30
            while role_process in worker.children():  # until it has ended and its worker has reaped it
                assert time.monotonic() < deadline, "the idle role process did not end after its linger"
                time.sleep(0.2)
            assert worker.is_running() and worker.children() == []  # only the roles' process went
    finally:
        stop_host(proc)

    assert pids[0] != pids[1]  # the second health check started a new role process
