"""The first admin of a new FEDPE_HOME, and passwords set after the fact."""

from __future__ import annotations

import pytest

from fedpe.auth import UserStore
from fedpe.errors import AuthenticationError, InvalidArgument, NotFound


def test_a_new_home_gets_one_admin_with_a_random_password_once(tmp_path):
    store = UserStore(tmp_path)

    password = store.ensure_first_admin("admin")
    again = store.ensure_first_admin("admin")

    assert password and len(password) >= 16 and again is None
    user = store.check_password("admin", password)
    assert user.is_admin and [u.name for u in store.list()] == ["admin"]


def test_a_home_with_users_gets_no_first_admin(tmp_path):
    store = UserStore(tmp_path)
    store.add("alice")

    assert store.ensure_first_admin("admin") is None and store.get("admin") is None


def test_set_password_replaces_it_and_keeps_the_keys(tmp_path):
    store = UserStore(tmp_path)
    _, key = store.add("alice", password="first-password")

    store.set_password("alice", "second-password")

    assert store.check_password("alice", "second-password").name == "alice"
    with pytest.raises(AuthenticationError):
        store.check_password("alice", "first-password")
    assert store.check_key(key).name == "alice"
    with pytest.raises(InvalidArgument):
        store.set_password("alice", "short")
    with pytest.raises(NotFound):
        store.set_password("nobody", "long-enough-password")
