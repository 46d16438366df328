"""`fedpe users key|revoke` through `fedpe.cli.main`, on a user database in a temporary FEDPE_HOME."""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path

import pytest

from fedpe.auth import UserStore
from fedpe.errors import AuthenticationError

cli_app = importlib.import_module("fedpe.cli.app")


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


@pytest.fixture
def fedpe(home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture):
    if not any(group.name == "users" for group in cli_app.app.registered_groups):
        cli_app._register()
    monkeypatch.setattr(cli_app, "_register", lambda: None)

    def run(*args: str) -> tuple[int, str, str]:
        monkeypatch.setattr(sys, "argv", ["fedpe", *args, "--home", str(home)])
        with pytest.raises(SystemExit) as info:
            cli_app.main()
        out, err = capsys.readouterr()
        return info.value.code or 0, out, err

    return run


def test_users_key_replaces_a_lost_key(fedpe, home: Path) -> None:
    _, added, _ = fedpe("users", "add", "alice", "--json")
    old = json.loads(added)["api_key"]

    code, out, _ = fedpe("users", "key", "alice")

    assert code == 0
    new = out.splitlines()[-1]
    assert new.startswith("fpk_") and new != old
    assert "previous ones no longer work" in out
    store = UserStore(home)
    assert store.check_key(new).name == "alice"
    with pytest.raises(AuthenticationError):
        store.check_key(old)


def test_users_key_enables_a_revoked_user_again(fedpe, home: Path) -> None:
    fedpe("users", "add", "bob")
    fedpe("users", "revoke", "bob")

    code, out, _ = fedpe("users", "key", "bob", "--json")

    assert code == 0
    answer = json.loads(out)
    assert answer["enabled_again"] is True and answer["name"] == "bob"
    assert UserStore(home).check_key(answer["api_key"]).name == "bob"
    _, listing, _ = fedpe("users", "list", "--json")
    assert json.loads(listing)[0]["revoked_at"] is None


def test_revoking_a_revoked_user_says_so(fedpe) -> None:
    fedpe("users", "add", "carol")
    first = fedpe("users", "revoke", "carol")

    again, again_json = fedpe("users", "revoke", "carol"), fedpe("users", "revoke", "carol", "--json")

    assert first[0] == again[0] == 0
    assert "carol revoked" in " ".join(first[1].split())
    assert "already revoked" in again[1] and "carol revoked" not in " ".join(again[1].split())
    assert json.loads(again_json[1])["already_revoked"] is True


@pytest.mark.parametrize("command", ["key", "revoke"])
def test_an_unknown_user_exits_2(fedpe, command) -> None:
    code, out, err = fedpe("users", command, "nobody")

    assert code == 2 and out == ""
    assert err.startswith("Error: no user 'nobody'") and err.count("\n") == 1
