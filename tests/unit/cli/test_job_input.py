"""What `fedpe run -p` and `fedpe job launch` make of their input, before anything is sent."""

from __future__ import annotations

from pathlib import Path

import pytest

from fedpe.cli.jobs import JobFile, load_job_file, parse_params, split_hosts
from fedpe.errors import InvalidArgument


# -p key=value


def test_values_are_json_when_they_parse_else_strings() -> None:
    params = parse_params(["rounds=5", "lr=0.1", "dp=true", "hosts=[\"a\",\"b\"]", "model=logreg", "tag=001",
                          "note=a=b", "empty=", "nothing=null"])

    assert params == {"rounds": 5, "lr": 0.1, "dp": True, "hosts": ["a", "b"], "model": "logreg", "tag": "001",
                      "note": "a=b", "empty": "", "nothing": None}


def test_dotted_keys_build_nested_dicts() -> None:
    params = parse_params(["strategy.name=fedprox", "strategy.mu=0.1", "privacy.dp.epsilon=1.5"])

    assert params == {"strategy": {"name": "fedprox", "mu": 0.1}, "privacy": {"dp": {"epsilon": 1.5}}}


def test_a_later_pair_wins_and_json_groups_merge() -> None:
    params = parse_params(["rounds=1", "rounds=2", 'strategy={"name": "fedavg"}', "strategy.mu=0.5"])

    assert params == {"rounds": 2, "strategy": {"name": "fedavg", "mu": 0.5}}


@pytest.mark.parametrize("pairs", [["rounds"], ["=5"], ["a..b=1"], [".a=1"], ["a.=1"],
                                   ["strategy=fedavg", "strategy.mu=0.1"], ["strategy.mu=0.1", "strategy=fedavg"]])
def test_malformed_or_clashing_pairs_are_invalid_arguments(pairs: list[str]) -> None:
    with pytest.raises(InvalidArgument) as info:
        parse_params(pairs)

    assert "\n" not in info.value.message


def test_no_pairs_give_no_parameters() -> None:
    assert parse_params(None) == {} and parse_params([]) == {}


def test_clients_split_on_commas_and_repeat() -> None:
    assert split_hosts(["hospital-a,hospital-b", " hospital-c ", ""]) == ["hospital-a", "hospital-b", "hospital-c"]
    assert split_hosts(None) is None


# job files


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "job.yaml"
    path.write_text(text)
    return path


def test_a_full_job_file(tmp_path: Path) -> None:
    path = _write(tmp_path, """
tool: fed-train
name: baseline
server: hospital-a
clients: [hospital-b, hospital-c]
parameters:
  rounds: 5
  strategy: {name: fedprox, mu: 0.1}
""")

    assert load_job_file(path) == JobFile(tool="fed-train", server="hospital-a", clients=["hospital-b", "hospital-c"],
                                          parameters={"rounds": 5, "strategy": {"name": "fedprox", "mu": 0.1}},
                                          name="baseline")


def test_a_minimal_job_file_with_comma_clients(tmp_path: Path) -> None:
    job = load_job_file(_write(tmp_path, "tool: health-check\nclients: hospital-a, hospital-b\n"))

    assert job == JobFile(tool="health-check", clients=["hospital-a", "hospital-b"])


@pytest.mark.parametrize(("text", "message"), [
    ("tool: fed-train\nworkspace: ./src\n", "unknown key 'workspace'"),
    ("server: hospital-a\n", "missing `tool`"),
    ("tool: [a, b]\n", "`tool` must be a tool id"),
    ("tool: fed-train\nclients: {a: 1}\n", "`clients` must be a list"),
    ("tool: fed-train\nparameters: [1, 2]\n", "`parameters` must be a mapping"),
    ("tool: fed-train\nserver: 3\n", "`server` must be a string"),
    ("- tool\n", "expected a mapping"),
    ("", "expected a mapping"),
    ("tool: fed-train\n  rounds: : 3\n", "not valid YAML at line"),
])
def test_bad_job_files_fail_with_one_line_naming_the_file(tmp_path: Path, text: str, message: str) -> None:
    path = _write(tmp_path, text)

    with pytest.raises(InvalidArgument) as info:
        load_job_file(path)

    assert message in info.value.message
    assert info.value.message.startswith(str(path))
    assert "\n" not in info.value.message


def test_a_missing_job_file_is_an_invalid_argument(tmp_path: Path) -> None:
    with pytest.raises(InvalidArgument, match="No such file"):
        load_job_file(tmp_path / "absent.yaml")
