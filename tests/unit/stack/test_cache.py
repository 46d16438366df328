"""What a new FEDPE_HOME copies in instead of making again (fedpe/stack/cache.py)."""

from __future__ import annotations

import os
import sqlite3

import pytest

from fedpe.stack import cache


@pytest.fixture
def cache_home(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    return tmp_path / "xdg" / "fedpe"


def test_demo_data_is_written_once_per_arguments_and_copied_with_its_times(tmp_path, cache_home):
    written = []

    def write(folder):
        written.append(folder)
        for host in ("a", "b"):
            (folder / host / "ds").mkdir(parents=True)
            (folder / host / "ds" / "train.csv").write_text(f"x,label\n1,{host}\n")
            os.utime(folder / host / "ds" / "train.csv", (1_000_000, 1_000_000))

    first, second = tmp_path / "home1" / "data", tmp_path / "home2" / "data"
    cache.demo_data(first, ["a", "b"], {"seed": 1}, write)
    cache.demo_data(second, ["a"], {"seed": 1}, write)
    assert len(written) == 1  # the second home copied the kept files
    assert (second / "a" / "ds" / "train.csv").read_text() == "x,label\n1,a\n"
    assert not (second / "b").exists()  # only the hosts asked for
    assert (second / "a" / "ds" / "train.csv").stat().st_mtime == 1_000_000  # the description still matches
    cache.demo_data(tmp_path / "home3" / "data", ["a"], {"seed": 2}, write)
    assert len(written) == 2  # other arguments, other files
    assert not list((cache_home / "demo-data").glob(".demo-*"))  # no half-made copy left behind


def test_a_new_home_gets_a_copy_of_the_migrated_database_and_an_old_one_is_left_alone(tmp_path, cache_home):
    template = cache.prefect_template()
    template.parent.mkdir(parents=True)
    with sqlite3.connect(template) as db:
        db.execute("CREATE TABLE alembic_version (version_num TEXT)")
        db.execute("INSERT INTO alembic_version VALUES ('head')")
    target = tmp_path / "home" / "prefect" / "prefect.db"
    assert cache.prefect_database(target) is True
    with sqlite3.connect(target) as db:
        assert db.execute("SELECT version_num FROM alembic_version").fetchone() == ("head",)
    assert oct(target.stat().st_mode & 0o777) == "0o600"
    target.write_bytes(b"the home's own database")
    assert cache.prefect_database(target) is False
    assert target.read_bytes() == b"the home's own database"


def test_the_template_is_a_database_prefect_migrated(tmp_path):
    path = cache.build_prefect_template(tmp_path / "prefect.db")
    assert path == tmp_path / "prefect.db"
    with sqlite3.connect(path) as db:
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert db.execute("SELECT count(*) FROM flow_run").fetchone() == (0,)
    assert {"alembic_version", "flow_run", "task_run", "deployment"} <= tables
    assert not list(tmp_path.glob(".prefect-*"))
