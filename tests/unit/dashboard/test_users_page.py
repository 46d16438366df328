"""The users page (admins): add a user and see its key once, a new key, revoke; never oneself."""

from __future__ import annotations

import re

import pytest

from fedpe.errors import AuthenticationError


def _key(html: str) -> str:
    return re.search(r'<code class="secret" data-user="[^"]+">(fpk_[^<]+)</code>', html).group(1)


def test_an_admin_adds_a_user_and_sees_the_key_once(browser_for, federation):
    admin = browser_for("root", admin=True)

    added = admin.post("/users", data={"name": "dora", "password": "dora-password", "admin": "on"},
                       headers={"X-CSRF-Token": admin.csrf, "HX-Request": "true"})
    later = admin.get("/users").text

    key = _key(added.text)
    assert federation.state.users.check_key(key).name == "dora"
    assert federation.state.users.check_password("dora", "dora-password").is_admin
    assert 'data-user="dora" data-active="true"' in later and key not in later


def test_bad_or_taken_names_are_shown_beside_the_form(browser_for):
    admin = browser_for("root", admin=True)
    headers = {"X-CSRF-Token": admin.csrf, "HX-Request": "true"}

    bad = admin.post("/users", data={"name": "../etc"}, headers=headers)
    short = admin.post("/users", data={"name": "erin", "password": "short"}, headers=headers)
    taken = admin.post("/users", data={"name": "root"}, headers=headers)

    assert bad.status_code == 422 and 'data-field="name"' in bad.text and "user name: 1-64 letters" in bad.text
    assert short.status_code == 422 and 'data-field="password"' in short.text
    assert taken.status_code == 409 and "already exists" in taken.text


def test_a_new_key_replaces_the_old_one_and_revoke_ends_the_user(browser_for, federation):
    old = federation.user("frank")
    admin = browser_for("root", admin=True)
    headers = {"X-CSRF-Token": admin.csrf, "HX-Request": "true"}

    rotated = admin.post("/users/frank/key", headers=headers)
    new = _key(rotated.text)
    revoked = admin.post("/users/frank/revoke", headers=headers)

    assert new != old and 'data-user="frank" data-active="false"' in revoked.text
    for key in (old, new):
        with pytest.raises(AuthenticationError):
            federation.state.users.check_key(key)


def test_an_admin_cannot_revoke_themselves_nor_touch_a_user_nobody_has(browser_for):
    admin = browser_for("root", admin=True)
    headers = {"X-CSRF-Token": admin.csrf, "HX-Request": "true"}

    themselves = admin.post("/users/root/revoke", headers=headers)
    nobody = admin.post("/users/nobody/key", headers=headers)

    assert themselves.status_code == 409 and "cannot revoke themselves" in themselves.text
    assert nobody.status_code == 404 and "no user &#39;nobody&#39;" in nobody.text
    assert admin.get("/").status_code == 200
