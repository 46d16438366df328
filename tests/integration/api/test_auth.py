"""Credentials against the real API: API keys, the password grant, revocation, 401s."""

import json
import os
import subprocess
import sys
import uuid

import httpx
import pytest

pytestmark = pytest.mark.integration


def add_user(stack, name=None, *, admin=False, password=None) -> dict:
    """`fedpe users add` in its own process, as an operator would run it while the API runs."""
    name = name or f"u-{uuid.uuid4().hex[:8]}"
    argv = [sys.executable, "-m", "fedpe.cli", "users", "add", name, "--json"]
    argv += ["--admin"] if admin else []
    argv += ["--password-stdin"] if password is not None else []
    out = subprocess.run(argv, input=(password + "\n") if password is not None else "", capture_output=True,
                         text=True, env={**os.environ, "FEDPE_HOME": str(stack.config.home)}, timeout=60, check=True)
    return json.loads(out.stdout)


def api(stack) -> str:
    return f"{stack.config.api_url}/api/v1"


def test_no_credentials_is_a_401_in_the_error_format(stack):
    for path in ("/hosts", "/tools", "/executions", "/executions/status/x", "/data/list_files", "/queue/status"):
        response = httpx.get(api(stack) + path)

        assert response.status_code == 401, path
        assert response.json()["error"]["code"] == "UNAUTHENTICATED"
        assert response.headers["www-authenticate"] == "Bearer"


def test_an_api_key_made_after_the_api_started_works_at_once(stack):
    user = add_user(stack)

    response = httpx.get(api(stack) + "/me", headers={"Authorization": f"Bearer {user['api_key']}"})

    assert response.status_code == 200
    assert response.json() == {"name": user["name"], "is_admin": False}
    assert user["api_key"].startswith("fpk_")


def test_password_grant_gives_a_bearer_token_and_refuses_wrong_passwords(stack):
    user = add_user(stack, password="correct horse")

    good = httpx.post(api(stack) + "/token", data={"username": user["name"], "password": "correct horse",
                                                   "grant_type": "password"})
    wrong = httpx.post(api(stack) + "/token", data={"username": user["name"], "password": "battery staple"})
    nobody = httpx.post(api(stack) + "/token", data={"username": "no-such-user", "password": "whatever1"})
    missing = httpx.post(api(stack) + "/token", data={"username": user["name"]})
    other_grant = httpx.post(api(stack) + "/token", data={"username": user["name"], "password": "correct horse",
                                                          "grant_type": "client_credentials"})

    assert good.status_code == 200
    body = good.json()
    assert body["token_type"] == "bearer" and body["expires_in"] > 0
    me = httpx.get(api(stack) + "/me", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.json()["name"] == user["name"]
    assert wrong.status_code == nobody.status_code == 401
    assert missing.status_code == 422 and missing.json()["error"]["details"]["field"] == "password"
    assert other_grant.status_code == 422 and other_grant.json()["error"]["details"]["field"] == "grant_type"


def test_garbage_and_revoked_credentials_are_401(stack):
    user = add_user(stack, password="pass-word-1")
    token = httpx.post(api(stack) + "/token", data={"username": user["name"], "password": "pass-word-1"}).json()
    headers_key = {"Authorization": f"Bearer {user['api_key']}"}
    headers_token = {"Authorization": f"Bearer {token['access_token']}"}
    assert httpx.get(api(stack) + "/me", headers=headers_key).status_code == 200

    subprocess.run([sys.executable, "-m", "fedpe.cli", "users", "revoke", user["name"]], check=True,
                   env={**os.environ, "FEDPE_HOME": str(stack.config.home)}, capture_output=True, timeout=60)

    assert httpx.get(api(stack) + "/me", headers=headers_key).status_code == 401
    assert httpx.get(api(stack) + "/me", headers=headers_token).status_code == 401
    for garbage in ("fpk_000000000000_" + "x" * 43, "not-a-token", token["access_token"][:-3] + "abc"):
        response = httpx.get(api(stack) + "/me", headers={"Authorization": f"Bearer {garbage}"})
        assert response.status_code == 401, garbage


def test_the_access_token_query_parameter_is_accepted_on_event_streams_only(stack):
    user = add_user(stack)

    me = httpx.get(api(stack) + "/me", params={"access_token": user["api_key"]})
    cancel = httpx.get(api(stack) + "/executions/cancel_run/no-such", params={"access_token": user["api_key"]})
    stream = httpx.get(api(stack) + "/executions/no-such/stream", params={"access_token": user["api_key"]})

    assert me.status_code == 401 and "event streams only" in me.json()["error"]["message"]
    assert cancel.status_code == 401  # a link that carries a credential changes nothing
    assert stream.status_code == 404  # authenticated: the execution is what is missing


def test_docs_offer_the_password_flow_and_the_bearer_key(stack):
    spec = httpx.get(f"{stack.config.api_url}/openapi.json").json()
    docs = httpx.get(f"{stack.config.api_url}/docs")

    schemes = spec["components"]["securitySchemes"]
    assert schemes["OAuth2Password"]["flows"]["password"]["tokenUrl"] == "/api/v1/token"
    assert schemes["APIKey"]["scheme"] == "bearer"
    assert docs.status_code == 200 and "swagger" in docs.text.lower()
    for code in ("VALIDATION_ERROR", "UNAUTHENTICATED", "FORBIDDEN", "EXECUTION_NOT_FOUND", "CONFLICT",
                 "HOST_NOT_AVAILABLE"):
        assert f"`{code}`" in spec["info"]["description"]
