"""Sign-in: a signed HttpOnly SameSite=Strict cookie that expires, CSRF on the form, sign-out
that ends the session for good, and sessions that end with their user."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from fedpe.dashboard.session import COOKIE, LOGIN_COOKIE, Sessions

PASSWORD = "correct-horse-battery"


def _csrf(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


@pytest.fixture
def client(app) -> TestClient:
    return TestClient(app, follow_redirects=False)


def _sign_in(client: TestClient, **fields) -> object:
    token = _csrf(client.get("/login").text)
    return client.post("/login", data={"csrf_token": token, **fields})


def test_a_password_sign_in_sets_a_signed_httponly_strict_cookie_that_expires(client, federation):
    # Prepare
    federation.user("alice", password=PASSWORD)

    # Execute
    signed = _sign_in(client, username="alice", password=PASSWORD, next="/hosts")

    # Assert
    assert signed.status_code == 303 and signed.headers["location"] == "/hosts"
    cookie = next(c for c in signed.headers.get_list("set-cookie") if c.startswith(f"{COOKIE}="))
    flags = {part.strip().split("=")[0].lower() for part in cookie.split(";")[1:]}
    assert {"httponly", "max-age", "path", "samesite"} <= flags
    assert "samesite=strict" in cookie.lower() and "max-age=3600" in cookie.lower()
    value = cookie.split(";")[0].split("=", 1)[1]
    sid, expires, signature = value.split(".")
    assert len(sid) >= 40 and expires.isdigit() and signature
    assert client.get("/hosts").status_code == 200


def test_an_api_key_signs_in_too(client, federation):
    key = federation.user("bob")

    signed = _sign_in(client, api_key=key)

    assert signed.status_code == 303
    assert "bob" in client.get("/").text


def test_a_wrong_password_shows_the_form_again_with_the_reason_and_no_session(client, federation):
    federation.user("alice", password=PASSWORD)

    refused = _sign_in(client, username="alice", password="not-the-password")
    empty = _sign_in(client, username="", password="")

    assert refused.status_code == 401 and "wrong user name or password" in refused.text
    assert not any(c.startswith(f"{COOKIE}=") for c in refused.headers.get_list("set-cookie"))
    assert empty.status_code == 422 and "username" in empty.text
    assert client.get("/", follow_redirects=False).status_code == 303


def test_the_sign_in_form_refuses_a_post_without_its_csrf_token(client, federation):
    federation.user("alice", password=PASSWORD)
    client.get("/login")

    forged = client.post("/login", data={"username": "alice", "password": PASSWORD, "csrf_token": "forged"})
    no_cookie = TestClient(client.app, follow_redirects=False).post(
        "/login", data={"username": "alice", "password": PASSWORD, "csrf_token": _csrf(client.get("/login").text)})

    assert forged.status_code == 403 and "<html" in forged.text and "another site" in forged.text
    assert no_cookie.status_code == 403
    assert not any(c.startswith(f"{COOKIE}=") for c in forged.headers.get_list("set-cookie"))


def test_signing_out_ends_the_session_so_a_copied_cookie_stops_working(client, federation):
    federation.user("alice", password=PASSWORD)
    _sign_in(client, username="alice", password=PASSWORD)
    copied = client.cookies.get(COOKIE)
    token = _csrf(client.get("/").text)

    out = client.post("/logout", data={"csrf_token": token})
    thief = TestClient(client.app, follow_redirects=False, cookies={COOKIE: copied})

    assert out.status_code == 303 and out.headers["location"] == "/login"
    assert thief.get("/").status_code == 303


def test_sign_out_without_the_csrf_token_is_refused(client, federation):
    federation.user("alice", password=PASSWORD)
    _sign_in(client, username="alice", password=PASSWORD)

    refused = client.post("/logout")

    assert refused.status_code == 403 and "CSRF" in refused.text
    assert client.get("/").status_code == 200


def test_an_expired_or_tampered_cookie_sends_the_browser_to_sign_in(client, federation):
    federation.user("alice", password=PASSWORD)
    store = Sessions(federation.state.settings.home, ttl_s=-5)
    expired, _ = store.start("alice")
    good, _ = Sessions(federation.state.settings.home, ttl_s=60).start("alice")
    sid, expires, signature = good.split(".")
    tampered = f"{sid}.{int(expires) + 86400}.{signature}"

    for cookie in (expired, tampered, "garbage"):
        response = TestClient(client.app, follow_redirects=False, cookies={COOKIE: cookie}).get("/executions")
        assert response.status_code == 303 and response.headers["location"] == "/login?next=%2Fexecutions"
    assert TestClient(client.app, follow_redirects=False, cookies={COOKIE: good}).get("/executions").status_code == 200


def test_revoking_the_user_or_giving_them_a_new_key_ends_their_sessions(client, federation):
    federation.user("alice", password=PASSWORD)
    _sign_in(client, username="alice", password=PASSWORD)
    assert client.get("/").status_code == 200

    federation.state.users.issue_key("alice")

    assert client.get("/").status_code == 303
    _sign_in(client, username="alice", password=PASSWORD)
    federation.state.users.revoke("alice")
    assert client.get("/").status_code == 303


def test_after_sign_in_the_browser_goes_back_but_never_to_another_site(client, federation):
    federation.user("alice", password=PASSWORD)

    for target, landing in (("/executions?status=running", "/executions?status=running"), ("//evil.example/", "/"),
                            ("https://evil.example/", "/"), ("/\\evil.example", "/")):
        client.cookies.clear()
        signed = _sign_in(client, username="alice", password=PASSWORD, next=target)
        assert signed.headers["location"] == landing, target


def test_the_sign_in_page_of_a_signed_in_browser_goes_on(client, federation):
    federation.user("alice", password=PASSWORD)
    _sign_in(client, username="alice", password=PASSWORD)

    again = client.get("/login?next=/tools")

    assert again.status_code == 303 and again.headers["location"] == "/tools"
    assert LOGIN_COOKIE not in client.cookies
