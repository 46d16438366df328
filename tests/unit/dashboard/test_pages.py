"""Every page and fragment: signed out -> sign in, signed in -> the page, another user's
execution -> a 403 page, an unknown id -> a 404 page, bad input -> a page naming the field;
the API keeps its JSON errors."""

from __future__ import annotations

import uuid

import pytest
from fastapi.testclient import TestClient

PAGES = ["/", "/hosts", "/tools", "/tools/flcore", "/tools/health-check", "/tools/fed-stats", "/tools/pipeline",
         "/executions", "/users"]
FRAGMENTS = ["/overview/counts", "/overview/health", "/overview/latest", "/hosts/table", "/executions/rows"]
EXECUTION_PAGES = ["", "/status", "/result", "/files", "/report", "/metrics.csv", "/logs.txt",
                   "/download?node=hospital-a&file=metrics.csv"]


@pytest.fixture
def execution(federation) -> str:
    execution_id = federation.training("alice", history=3, dropped={2: ["hospital-c"]})
    federation.file(execution_id, "hospital-a", "metrics.csv", b"round,loss\n1,0.65\n")
    return execution_id


def test_signed_out_every_page_goes_to_sign_in_and_comes_back(app, execution):
    client = TestClient(app, follow_redirects=False)

    for path in PAGES + FRAGMENTS + [f"/executions/{execution}{p}" for p in EXECUTION_PAGES]:
        response = client.get(path)
        assert response.status_code == 303, path
        assert response.headers["location"].startswith("/login"), path
    assert client.get("/executions?status=running").headers["location"] == "/login?next=%2Fexecutions%3Fstatus%3Drunning"


def test_signed_out_a_fragment_asks_htmx_for_a_full_page_sign_in(app):
    client = TestClient(app, follow_redirects=False)

    response = client.get("/hosts/table", headers={"HX-Request": "true", "HX-Current-URL": "http://testserver/hosts"})

    assert response.status_code == 200 and response.headers["HX-Redirect"] == "/login?next=%2Fhosts"


def test_signed_in_every_page_and_fragment_renders(browser_for, execution):
    admin = browser_for("alice", admin=True)

    for path in PAGES + FRAGMENTS + [f"/executions/{execution}{p}" for p in EXECUTION_PAGES]:
        response = admin.get(path)
        assert response.status_code == 200, (path, response.text[:500])
    page = admin.get("/").text
    assert 'hx-get="/overview/health"' in page and 'data-state="running"' in page and execution in page


def test_another_users_execution_is_a_403_page_everywhere(browser_for, execution):
    bob = browser_for("bob")

    for suffix in EXECUTION_PAGES + ["/events"]:
        response = bob.get(f"/executions/{execution}{suffix}")
        assert response.status_code == 403, suffix
        assert "text/html" in response.headers["content-type"] and "belongs to another user" in response.text, suffix
    for action in ("control", "rename", "clone", "delete"):
        response = bob.post(f"/executions/{execution}/{action}", data={"action": "pause", "name": "x"},
                            headers={"X-CSRF-Token": bob.csrf})
        assert response.status_code == 403, action
    assert bob.get(f"/tools/flcore?from_execution={execution}").status_code == 403


def test_an_unknown_or_malformed_id_is_a_404_page(browser_for):
    alice = browser_for("alice")

    for execution_id in (str(uuid.uuid4()), "not-an-id"):
        for suffix in ("", "/status", "/files", "/events"):
            response = alice.get(f"/executions/{execution_id}{suffix}")
            assert response.status_code == 404, (execution_id, suffix)
            assert 'data-status="404"' in response.text and "no execution" in response.text
    assert alice.get("/tools/nosuch").status_code == 404 and "no tool" in alice.get("/tools/nosuch").text
    assert alice.get("/nowhere").status_code == 404 and "<html" in alice.get("/nowhere").text


def test_an_error_inside_a_fragment_goes_to_the_flash_region(browser_for):
    alice = browser_for("alice")

    response = alice.get(f"/executions/{uuid.uuid4()}/status", headers={"HX-Request": "true"})

    assert response.status_code == 404
    assert response.headers["HX-Retarget"] == "#flash" and "no execution" in response.text


def test_bad_query_input_is_a_page_naming_the_field(browser_for):
    alice = browser_for("alice", admin=True)

    cases = {"/executions?status=bogus": "status", "/executions?page=0": "page", "/executions?tool=nosuch": "tool",
             "/executions?sort=size": "sort", "/executions/rows?page=abc": "page"}
    for path, field in cases.items():
        response = alice.get(path)
        assert response.status_code == 422, path
        assert f"<code>{field}</code>" in response.text, (path, response.text[:400])


def test_a_user_sees_only_their_executions_and_an_admin_everyones(browser_for, federation):
    mine = federation.training("alice", name="alices-run")
    theirs = federation.training("bob", name="bobs-run")
    alice, admin = browser_for("alice"), browser_for("root", admin=True)

    own_rows = alice.get("/executions/rows").text
    all_rows = admin.get("/executions/rows").text
    filtered = admin.get("/executions/rows?owner=bob").text

    assert mine in own_rows and theirs not in own_rows
    assert mine in all_rows and theirs in all_rows
    assert theirs in filtered and mine not in filtered
    assert alice.get("/executions?owner=bob").status_code == 403


def test_the_list_filters_sorts_and_pages(browser_for, federation):
    for i in range(27):
        federation.training("alice", name=f"run-{i:02d}", state_type="COMPLETED" if i % 3 else "RUNNING")
    alice = browser_for("alice")

    first = alice.get("/executions").text
    second = alice.get("/executions?page=2").text
    running = alice.get("/executions/rows?status=running").text
    by_name = alice.get("/executions/rows?sort=name:asc").text

    assert "27 executions, page 1 of 2" in first and "page 2 of 2" in second
    assert running.count('data-status="running"') == 9 and 'data-status="completed"' not in running
    assert by_name.index("run-00") < by_name.index("run-01") < by_name.index("run-24")
    assert 'hx-get="/executions/rows?status=running"' in running  # the live rows keep their filter


def test_the_api_keeps_its_json_errors_beside_the_pages(app):
    client = TestClient(app)

    api = client.get("/api/v1/nope")
    unauthenticated = client.get("/api/v1/executions")
    page = client.get("/nope")

    assert api.status_code == 404 and api.json()["error"]["code"] == "NOT_FOUND"
    assert unauthenticated.status_code == 401 and unauthenticated.json()["error"]["code"] == "UNAUTHENTICATED"
    assert page.status_code == 404 and "text/html" in page.headers["content-type"]
    assert not any(path.startswith(("/hosts", "/login", "/executions/{")) for path in client.get("/openapi.json").json()["paths"])


def test_admin_pages_and_actions_refuse_other_users(browser_for, federation):
    alice = browser_for("alice")

    users = alice.get("/users")
    disable = alice.post("/hosts/hospital-a/disable", headers={"X-CSRF-Token": alice.csrf})

    assert users.status_code == 403 and "admins only" in users.text
    assert disable.status_code == 403 and federation.disabled == []
    assert "Disable" not in alice.get("/hosts").text


def test_an_admin_disables_and_enables_a_host_from_the_table(browser_for, federation):
    admin = browser_for("root", admin=True)

    disabled = admin.post("/hosts/hospital-b/disable", headers={"X-CSRF-Token": admin.csrf})
    assert federation.disabled == ["hospital-b"] and 'data-host="hospital-b" data-state="disabled"' in disabled.text
    enabled = admin.post("/hosts/hospital-b/enable", headers={"X-CSRF-Token": admin.csrf})
    unknown = admin.post("/hosts/nosuch/disable", headers={"X-CSRF-Token": admin.csrf})

    assert federation.disabled == [] and 'data-host="hospital-b" data-state="running"' in enabled.text
    assert unknown.status_code == 404 and "no host" in unknown.text


def test_every_state_changing_request_needs_the_csrf_token(browser_for, federation, execution):
    alice = browser_for("alice", admin=True)

    posts = {f"/executions/{execution}/control": {"action": "pause"}, f"/executions/{execution}/rename": {"name": "x"},
             f"/executions/{execution}/clone": {}, f"/executions/{execution}/delete": {},
             "/hosts/hospital-a/disable": {}, "/users": {"name": "mallory"}, "/users/alice/key": {},
             "/tools/health-check/run": {}, "/tools/health-check/validate": {}, "/logout": {}}
    for path, data in posts.items():
        missing = alice.post(path, data=data)
        wrong = alice.post(path, data={**data, "csrf_token": "x" * 43})
        assert missing.status_code == 403 and "CSRF" in missing.text, path
        assert wrong.status_code == 403, path

    assert federation.scheduler.events == {} and federation.disabled == []
    assert federation.prefect.submitted == [] and federation.state.users.get("mallory") is None
    assert alice.get(f"/executions/{execution}").status_code == 200  # not deleted, still signed in


def test_the_page_links_its_static_files_with_their_content_hash(browser_for, app):
    alice = browser_for("alice")
    page = alice.get("/").text

    for name in ("vendor/htmx.min.js", "vendor/uPlot.iife.min.js", "vendor/uPlot.min.css", "dashboard.js",
                 "dashboard.css"):
        assert f"/static/{name}?v=" in page
        assert TestClient(app).get(f"/static/{name}").status_code == 200


def test_pages_are_not_cached_framed_or_sniffed(browser_for):
    alice = browser_for("alice")

    headers = alice.get("/").headers

    assert headers["cache-control"] == "no-store" and headers["x-frame-options"] == "DENY"
    assert headers["x-content-type-options"] == "nosniff" and "frame-ancestors 'none'" in headers[
        "content-security-policy"]
