"""What keeps an idle host cheap: Dask paced for idling, a lean supervisor, a catalogue read only
when its files change (and never into the worker's own memory)."""

import json
import os
import pathlib
import subprocess
import sys
import time

import dask
import pytest

from fedpe.dask_settings import HEARTBEAT_S, IDLE, SCHEDULER, heartbeat_interval
from fedpe.host.start import worker_env
from tasks.data.catalogue import catalogue_signature, scan_catalogue
from tasks.data.demo import write_demo_data


def test_hosts_beat_every_few_seconds_and_never_more_than_40_times_a_second_in_all():
    assert heartbeat_interval(1) == heartbeat_interval(50) == HEARTBEAT_S >= 5
    assert 1000 / heartbeat_interval(1000) <= 40 and 5000 / heartbeat_interval(5000) <= 40


def test_the_idle_settings_are_dask_settings_dask_reads():
    env = {**os.environ, **SCHEDULER}
    code = ("import dask, distributed, json; print(json.dumps([dask.config.get(k) for k in ("
            "'distributed.worker.profile.enabled', 'distributed.admin.tick.interval', "
            "'distributed.admin.system-monitor.interval', 'distributed.scheduler.work-stealing')]))")
    read = json.loads(subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                                     check=True).stdout)
    assert read == [False, "1s", "5s", False]
    # the same keys exist in Dask's own defaults (a misspelt variable would be silently ignored)
    import distributed  # noqa: F401 - loads distributed's defaults into dask.config

    for name in SCHEDULER:
        key = name.removeprefix("DASK_").lower().replace("__", ".").replace("_", "-")
        assert dask.config.get(key, default="absent") != "absent", key


def test_the_workers_environment_carries_the_idle_settings():
    env = worker_env("hospital-x", pathlib.Path("/tmp"), source={"PATH": "/bin"})
    assert all(env[k] == v for k, v in IDLE.items())


def test_the_catalogue_signature_changes_with_a_dataset_file_and_only_then(tmp_path):
    dirs = write_demo_data(tmp_path, ["hospital-a"], datasets=["breast-cancer"])
    root = dirs["hospital-a"]
    first = catalogue_signature(root)
    assert [entry[:2] for entry in first] == [("breast-cancer", "test.parquet"), ("breast-cancer", "train.parquet")]
    (root / ".fedpe").mkdir()
    (root / ".fedpe" / "audit.jsonl").write_text("{}\n")  # the audit log is no dataset
    (root / "notes.txt").write_text("a file beside the datasets")
    assert catalogue_signature(root) == first
    time.sleep(0.01)
    (root / "breast-cancer" / "train.parquet").write_bytes((root / "breast-cancer" / "train.parquet").read_bytes())
    assert catalogue_signature(root) != first


def test_the_catalogue_child_process_prints_what_scan_catalogue_returns(tmp_path):
    dirs = write_demo_data(tmp_path, ["hospital-a"], datasets=["breast-cancer", "digits"], fmt="csv")
    out = subprocess.run([sys.executable, "-m", "tasks.data.scan", str(dirs["hospital-a"])],
                         capture_output=True, text=True, check=True).stdout
    assert json.loads(out) == [d.model_dump(mode="json") for d in scan_catalogue(dirs["hospital-a"])]


@pytest.mark.parametrize("module", ["fedpe.host.supervisor", "fedpe.host.preload"])
def test_a_hosts_long_lived_processes_do_not_import_the_data_stack(module):
    code = (f"import sys, {module}; print(sorted(m for m in ('pandas', 'pyarrow', 'sklearn', 'prefect', 'mlflow', "
            f"'torch', 'xgboost', 'distributed') if m in sys.modules))")
    loaded = json.loads(subprocess.run([sys.executable, "-c", code.replace("print(", "import json; print(json.dumps(")
                                        + ")"], capture_output=True, text=True, check=True).stdout)
    expected = [] if module == "fedpe.host.supervisor" else ["distributed"]
    assert loaded == expected


def test_a_described_catalogue_is_remembered_until_a_dataset_file_changes(tmp_path):
    from tasks.data.scan import describe, remembered

    root = write_demo_data(tmp_path, ["hospital-a"], datasets=["breast-cancer"])["hospital-a"]
    described = describe(root)
    assert remembered(root, catalogue_signature(root)) == described
    assert [d["name"] for d in described] == ["breast-cancer"]
    time.sleep(0.01)
    (root / "breast-cancer" / "test.parquet").write_bytes((root / "breast-cancer" / "test.parquet").read_bytes())
    assert remembered(root, catalogue_signature(root)) is None
    (root / ".fedpe" / "catalogue.json").write_text("not json")
    assert remembered(root, catalogue_signature(root)) is None
