"""`UserStore.issue_key`: a lost key replaced by a new one; the old one fails at once, a revoked user comes back."""

import sqlite3

import pytest

from fedpe.auth import UserStore
from fedpe.auth.keys import split_key
from fedpe.errors import AuthenticationError, NotFound


def test_a_new_key_works_at_once_and_the_old_one_stops_even_when_cached(tmp_path):
    # Prepare: the API's store has verified (and cached) the old key
    api_store, cli_store = UserStore(tmp_path), UserStore(tmp_path)
    _, old = cli_store.add("alice")
    assert api_store.check_key(old).name == "alice"

    # Execute
    user, new = cli_store.issue_key("alice")

    # Assert
    assert user.name == "alice" and user.active and new != old
    assert api_store.check_key(new).name == "alice"
    with pytest.raises(AuthenticationError):
        api_store.check_key(old)


def test_the_new_key_is_stored_hashed(tmp_path):
    store = UserStore(tmp_path)
    store.add("bob")

    _, key = store.issue_key("bob")

    raw = (tmp_path / "api.db").read_bytes()
    assert key.encode() not in raw and split_key(key)[1].encode() not in raw
    with sqlite3.connect(tmp_path / "api.db") as db:
        rows = db.execute("SELECT key_hash, revoked_at FROM api_keys WHERE user_name = 'bob'").fetchall()
    assert len(rows) == 2 and all(h.startswith("$argon2id$") for h, _ in rows)
    assert [revoked is None for _, revoked in rows].count(True) == 1


def test_a_new_key_enables_a_revoked_user_again_with_their_password(tmp_path):
    store = UserStore(tmp_path)
    _, old = store.add("carol", admin=True, password="password-1")
    store.revoke("carol")

    user, new = store.issue_key("carol")

    assert user.active and user.is_admin
    assert store.check_key(new).name == "carol"
    assert store.check_password("carol", "password-1").name == "carol"
    assert store.active("carol").name == "carol"
    with pytest.raises(AuthenticationError):
        store.check_key(old)


def test_an_unknown_user_gets_no_key(tmp_path):
    with pytest.raises(NotFound):
        UserStore(tmp_path).issue_key("nobody")


def test_clients_that_connect_at_once_with_one_key_share_one_argon2_check(tmp_path, monkeypatch):
    import threading

    from fedpe.auth import users as module

    store = UserStore(tmp_path)
    _, key = store.add("alice")
    checks = []
    real = module.verify_secret
    monkeypatch.setattr(module, "verify_secret", lambda *a: checks.append(1) or real(*a))
    found = []
    threads = [threading.Thread(target=lambda: found.append(store.check_key(key).name)) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert found == ["alice"] * 20 and len(checks) == 1
