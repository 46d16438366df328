"""Access tokens issued before a user was revoked or given a new key stay refused; older databases gain the column."""

import datetime as dt
import sqlite3
from types import SimpleNamespace

import pytest

from fedpe.api.deps import authenticate
from fedpe.auth import UserStore, issue_token
from fedpe.errors import AuthenticationError


def _state(home) -> SimpleNamespace:
    """What `authenticate` reads of the app state: the users and FEDPE_HOME."""
    return SimpleNamespace(users=UserStore(home), settings=SimpleNamespace(home=home))


def _token(home, user: str, *, ago_s: float = 0.0) -> str:
    return issue_token(home, user, ttl_s=600, now=dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=ago_s))[0]


def test_a_token_from_before_a_revoke_is_refused_after_the_user_is_enabled_again(tmp_path):
    # Prepare
    state = _state(tmp_path)
    state.users.add("alice", password="password-1")
    before = _token(tmp_path, "alice")
    assert authenticate(state, before).name == "alice"
    state.users.revoke("alice")

    # Execute: `fedpe users key alice`
    state.users.issue_key("alice")

    # Assert
    with pytest.raises(AuthenticationError, match="issued before"):
        authenticate(state, before)


def test_a_token_issued_after_the_user_is_enabled_again_works(tmp_path):
    state = _state(tmp_path)
    state.users.add("bob", password="password-1")
    state.users.revoke("bob")
    _, key = state.users.issue_key("bob")

    after = _token(tmp_path, state.users.check_password("bob", "password-1").name)

    assert authenticate(state, after).name == "bob"
    assert authenticate(state, key).name == "bob"  # the new API key works at once too


def test_the_boundary_is_the_moment_of_the_change_not_its_second(tmp_path):
    state = _state(tmp_path)
    user, _ = state.users.add("carol")
    user, _ = state.users.issue_key("carol")
    changed = dt.datetime.fromisoformat(user.tokens_valid_after)

    just_before = issue_token(tmp_path, "carol", now=changed - dt.timedelta(milliseconds=1))[0]
    just_after = issue_token(tmp_path, "carol", now=changed + dt.timedelta(milliseconds=1))[0]

    with pytest.raises(AuthenticationError):
        authenticate(state, just_before)
    assert authenticate(state, just_after).name == "carol"


def test_a_new_key_for_an_active_user_ends_their_older_tokens(tmp_path):
    state = _state(tmp_path)
    state.users.add("dave")
    older = _token(tmp_path, "dave")

    state.users.issue_key("dave")

    with pytest.raises(AuthenticationError):
        authenticate(state, older)


def test_a_revoked_name_given_out_again_does_not_take_the_old_tokens(tmp_path):
    state = _state(tmp_path)
    state.users.add("erin")
    older = _token(tmp_path, "erin")
    state.users.revoke("erin")

    state.users.add("erin")

    with pytest.raises(AuthenticationError):
        authenticate(state, older)
    assert authenticate(state, _token(tmp_path, "erin")).name == "erin"


def test_a_revoked_user_is_refused_whatever_the_tokens_age(tmp_path):
    state = _state(tmp_path)
    state.users.add("frank")
    state.users.revoke("frank")

    with pytest.raises(AuthenticationError, match="revoked"):
        authenticate(state, _token(tmp_path, "frank"))


OLD_USERS = """CREATE TABLE users (name TEXT PRIMARY KEY, is_admin INTEGER NOT NULL DEFAULT 0, password_hash TEXT,
                                   created_at TEXT NOT NULL, revoked_at TEXT)"""


def test_a_database_from_before_the_column_keeps_working_and_gains_it(tmp_path):
    # Prepare: api.db as an older fedpe made it, with a user in it
    with sqlite3.connect(tmp_path / "api.db") as db:
        db.execute(OLD_USERS)
        db.execute("INSERT INTO users (name, is_admin, created_at) VALUES ('gina', 1, '2025-01-01T00:00:00+00:00')")
    state = _state(tmp_path)
    older = _token(tmp_path, "gina", ago_s=1)

    # Execute
    before = state.users.active("gina")
    state.users.revoke("gina")
    state.users.issue_key("gina")

    # Assert
    assert before.is_admin and before.tokens_valid_after is None
    with sqlite3.connect(tmp_path / "api.db") as db:
        columns = [row[1] for row in db.execute("PRAGMA table_info(users)")]
    assert "tokens_valid_after" in columns
    with pytest.raises(AuthenticationError):
        authenticate(state, older)
    assert authenticate(state, _token(tmp_path, "gina")).name == "gina"
