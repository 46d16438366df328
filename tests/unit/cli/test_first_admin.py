"""`fedpe up` prints the first admin's password once; `fedpe users password` sets another."""

from __future__ import annotations

import importlib
import io
import json
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from fedpe.auth import UserStore

cli_app = importlib.import_module("fedpe.cli.app")


def test_the_first_admin_is_printed_once_on_a_new_home(tmp_path: Path, capsys):
    from fedpe.cli.stack import print_first_admin

    stack = SimpleNamespace(config=SimpleNamespace(home=tmp_path, owner="admin"))

    print_first_admin(stack)
    first = capsys.readouterr().out
    print_first_admin(stack)
    second = capsys.readouterr().out

    password = first.split("password ", 1)[1].split(" ", 1)[0]
    assert "first admin: admin" in first and "shown once" in first
    assert UserStore(tmp_path).check_password("admin", password).is_admin
    assert second == ""


def test_users_password_sets_it_from_stdin(tmp_path: Path, monkeypatch, capsys):
    if not any(group.name == "users" for group in cli_app.app.registered_groups):
        cli_app._register()
    monkeypatch.setattr(cli_app, "_register", lambda: None)
    UserStore(tmp_path).add("alice")

    def run(*args: str, stdin: str = "") -> tuple[int, str, str]:
        monkeypatch.setattr(sys, "argv", ["fedpe", *args, "--home", str(tmp_path)])
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
        with pytest.raises(SystemExit) as info:
            cli_app.main()
        out, err = capsys.readouterr()
        return info.value.code or 0, out, err

    code, out, _ = run("users", "password", "alice", "--password-stdin", "--json", stdin="a-long-password\n")
    short, _, err = run("users", "password", "alice", "--password-stdin", stdin="short\n")
    missing, _, missing_err = run("users", "password", "nobody", "--password-stdin", stdin="a-long-password\n")

    assert code == 0 and json.loads(out) == {"name": "alice", "password_set": True}
    assert UserStore(tmp_path).check_password("alice", "a-long-password").name == "alice"
    assert short == 2 and "password: at least 8 characters" in err
    assert missing == 2 and "no user 'nobody'" in missing_err
