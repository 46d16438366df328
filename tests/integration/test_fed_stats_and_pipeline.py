"""fed-stats and pipelines on the real federation."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from prefect.deployments import run_deployment

from blocks.store import StoreSpec
from tasks.conventions import RESULT_FILE

pytestmark = pytest.mark.integration


def run(name: str, parameters: dict):
    return run_deployment(f"{name}/default", parameters=parameters, poll_interval=0.25, timeout=300)


def test_fed_stats_combines_exactly_what_the_pooled_data_gives(stack):
    # Prepare: the oracle reads every host's file, which only a test may do
    frames = [pd.read_parquet(Path(d) / "breast-cancer" / "train.parquet") for d in stack.data_dirs.values()]
    pooled = pd.concat(frames)
    # No record's own value leaves a host: each releases the mean of its 5 smallest and 5 largest.
    lowest = min(f["mean_radius"].nsmallest(5).mean() for f in frames)
    highest = max(f["mean_radius"].nlargest(5).mean() for f in frames)

    # Execute
    flow_run = run("fed-stats", {"dataset": "breast-cancer", "columns": ["mean_radius", "mean_texture"], "min_count": 5})

    # Assert
    assert flow_run.state.is_completed(), flow_run.state.message
    stats = flow_run.state.result().statistics
    radius = stats["columns"]["mean_radius"]
    assert radius["count"] == len(pooled)
    assert radius["mean"] == pytest.approx(pooled["mean_radius"].mean(), rel=1e-9)
    assert radius["std"] == pytest.approx(pooled["mean_radius"].std(ddof=0), rel=1e-9)
    assert radius["min"] == pytest.approx(lowest) and radius["min"] > pooled["mean_radius"].min()
    assert radius["max"] == pytest.approx(highest) and radius["max"] < pooled["mean_radius"].max()
    bin_width = (radius["max"] - radius["min"]) / 20
    assert abs(radius["quantiles"]["0.5"] - np.median(pooled["mean_radius"])) <= bin_width
    store = StoreSpec(url=stack.config.store)
    for host in stack.hosts:
        assert json.loads(store.read_bytes(str(flow_run.id), host, "federated_stats.json")) == json.loads(
            json.dumps(stats, default=float))
        assert "local_stats.json" in store.list_files(str(flow_run.id), host)


def test_fed_stats_suppresses_cells_below_min_count_on_the_host(stack):
    # Every host holds about 150 training records: a min_count of 1000 leaves nothing to release.
    flow_run = run("fed-stats", {"dataset": "breast-cancer", "columns": ["mean_radius"], "min_count": 1000})

    assert flow_run.state.is_completed(), flow_run.state.message
    store = StoreSpec(url=stack.config.store)
    for host in stack.hosts:
        local = json.loads(store.read_bytes(str(flow_run.id), host, "local_stats.json"))
        assert local["rows"] is None
        # No host released a range, so no common edges exist and nothing about the column leaves.
        assert local["numeric"].get("mean_radius") in (None, {"suppressed": True})
        assert "sum" not in json.dumps(local) and "mean_radius\": {\"count" not in json.dumps(local)
    combined = flow_run.state.result().statistics["columns"].get("mean_radius") or {}
    assert combined.get("mean") is None and combined.get("min") is None


def test_pipeline_runs_tools_in_order_under_one_execution_id(stack):
    flow_run = run("pipeline", {"steps": [
        {"tool": "health-check", "parameters": {"hosts": ["hospital-a", "hospital-b"]}},
        {"tool": "flcore", "parameters": {"server": "hospital-a", "clients": ["hospital-a", "hospital-b"], "rounds": 2}},
    ]})

    assert flow_run.state.is_completed(), flow_run.state.message
    result = flow_run.state.result()
    assert [p.tool for p in result.parts] == ["health-check", "flcore"]
    assert all(p.state == "Completed" for p in result.parts)
    assert result.parts[1].result["execution_id"] == str(flow_run.id)
    files = StoreSpec(url=stack.config.store).list_files(str(flow_run.id), "hospital-a")
    assert "health.json" in files and "metrics.csv" in files


def test_pipeline_stops_at_the_first_failure(stack):
    flow_run = run("pipeline", {"steps": [
        {"tool": "flcore", "parameters": {"server": "hospital-a", "clients": ["hospital-b"], "dataset": "nope"}},
        {"tool": "health-check", "parameters": {}},
    ]})

    assert flow_run.state.is_failed()
    assert "part 0 (flcore)" in flow_run.state.message and "nope" in flow_run.state.message
    parts = json.loads(StoreSpec(url=stack.config.store).read_bytes(str(flow_run.id), RESULT_FILE))["parts"]
    assert [p["tool"] for p in parts] == ["flcore"]
