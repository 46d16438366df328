"""Users, keys and tokens: hashes only at rest, keys found by prefix, tokens that expire."""

import datetime as dt
import os
import sqlite3
import stat

import pytest

from fedpe.auth import UserStore, issue_token, read_token
from fedpe.auth.hashing import hash_secret, verify_secret
from fedpe.auth.keys import new_key, split_key
from fedpe.errors import AuthenticationError, Conflict, InvalidArgument, NotFound


def test_passwords_and_keys_are_stored_as_argon2_hashes_only(tmp_path):
    store = UserStore(tmp_path)

    _, key = store.add("alice", password="s3cret-password")

    raw = (tmp_path / "api.db").read_bytes()
    assert b"s3cret-password" not in raw and key.encode() not in raw and split_key(key)[1].encode() not in raw
    with sqlite3.connect(tmp_path / "api.db") as db:
        (password_hash,), = db.execute("SELECT password_hash FROM users")
        (key_hash,), = db.execute("SELECT key_hash FROM api_keys")
    assert password_hash.startswith("$argon2id$") and key_hash.startswith("$argon2id$")
    assert stat.S_IMODE(os.stat(tmp_path / "api.db").st_mode) == 0o600


def test_hash_round_trip_and_malformed_hashes():
    hashed = hash_secret("abc")

    assert verify_secret("abc", hashed)
    assert not verify_secret("abd", hashed)
    assert not verify_secret("abc", "not-a-hash")
    assert not verify_secret("abc", None)


def test_keys_are_prefix_plus_secret_and_are_checked_by_hash(tmp_path):
    store = UserStore(tmp_path)
    _, key = store.add("bob", admin=True)
    prefix, secret = split_key(key)

    user = store.check_key(key)
    cached = store.check_key(key)  # second call: from the verified-key cache

    assert user.name == cached.name == "bob" and user.is_admin
    assert key == f"fpk_{prefix}_{secret}" and len(prefix) == 12
    forged = f"fpk_{prefix}_{'A' * len(secret)}"
    with pytest.raises(AuthenticationError):
        store.check_key(forged)
    for garbage in ("", "fpk_", "fpk_zz_short", key + "!"):
        with pytest.raises(AuthenticationError):
            store.check_key(garbage)


def test_revoking_a_user_stops_its_keys_even_when_cached(tmp_path):
    store = UserStore(tmp_path)
    _, key = store.add("carol", password="password-1")
    store.check_key(key)

    store.revoke("carol")

    with pytest.raises(AuthenticationError):
        store.check_key(key)
    with pytest.raises(AuthenticationError):
        store.check_password("carol", "password-1")
    with pytest.raises(AuthenticationError):
        store.active("carol")
    _, new = store.add("carol")  # a revoked name may be given out again, with a new key
    assert store.check_key(new).name == "carol"
    with pytest.raises(AuthenticationError):
        store.check_key(key)


def test_user_names_passwords_and_duplicates_are_checked(tmp_path):
    store = UserStore(tmp_path)
    store.add("dave")

    with pytest.raises(Conflict):
        store.add("dave")
    with pytest.raises(InvalidArgument):
        store.add("../etc")
    with pytest.raises(InvalidArgument):
        store.add("eve", password="short")
    with pytest.raises(NotFound):
        store.revoke("nobody")
    assert [u.name for u in store.list()] == ["dave"]


def test_password_check(tmp_path):
    store = UserStore(tmp_path)
    store.add("frank", password="right-password")

    assert store.check_password("frank", "right-password").name == "frank"
    with pytest.raises(AuthenticationError):
        store.check_password("frank", "wrong-password")
    with pytest.raises(AuthenticationError):
        store.check_password("nobody", "right-password")


def test_tokens_expire_and_are_signed_with_a_private_secret(tmp_path):
    token, ttl = issue_token(tmp_path, "alice", ttl_s=60)
    old, _ = issue_token(tmp_path, "alice", ttl_s=60, now=dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=5))

    assert read_token(tmp_path, token).user == "alice" and ttl == 60
    with pytest.raises(AuthenticationError, match="expired"):
        read_token(tmp_path, old)
    with pytest.raises(AuthenticationError):
        read_token(tmp_path, token[:-2] + "xx")
    assert stat.S_IMODE(os.stat(tmp_path / "api-jwt.secret").st_mode) == 0o600
    other = tmp_path / "other"
    with pytest.raises(AuthenticationError):
        read_token(other, token)  # another home, another secret


def test_a_token_says_when_it_was_issued_to_the_microsecond(tmp_path):
    issued = (dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=10)).replace(microsecond=123456)
    token, _ = issue_token(tmp_path, "alice", ttl_s=60, now=issued)

    claims = read_token(tmp_path, token)

    assert claims.user == "alice"
    assert abs(claims.issued_at - issued) < dt.timedelta(microseconds=2)


def test_a_token_without_an_issue_time_is_refused(tmp_path):
    import jwt

    from fedpe.auth.tokens import ALGORITHM, _secret

    exp = dt.datetime.now(dt.timezone.utc) + dt.timedelta(minutes=1)
    token = jwt.encode({"sub": "alice", "exp": exp, "typ": "access"}, _secret(tmp_path), algorithm=ALGORITHM)

    with pytest.raises(AuthenticationError):
        read_token(tmp_path, token)


def test_new_keys_differ():
    assert len({new_key()[0] for _ in range(50)}) == 50
