"""The run form through the app: host and dataset pickers from the federation, live checks that
put each problem at its field, one execution per submit token however often it is sent."""

from __future__ import annotations

import re

FLCORE = {"server": "hospital-a", "clients": ["hospital-b", "hospital-c"], "dataset": "breast-cancer",
          "model": "logreg", "rounds": "3", "strategy": "fedavg", "learning_rate": "0.1"}


def _token(html: str) -> str:
    return re.search(r'name="submit_token" value="([0-9a-f]{32})"', html).group(1)


def test_the_pickers_offer_the_connected_enabled_hosts_and_their_datasets(browser_for, federation):
    federation.disabled.append("hospital-c")
    alice = browser_for("alice")

    page = alice.get("/tools/flcore").text

    assert '<option value="hospital-a"' in page and '<option value="hospital-c"' not in page
    assert 'name="clients" value="hospital-b"' in page and 'name="clients" value="hospital-c"' not in page
    assert 'value="breast-cancer"' in page and "on 2 hosts, 300 rows, 5 columns" in page
    assert 'name="strategy" value="fedprox"' in page and 'name="strategy.fedprox.mu"' in page
    assert 'name="model" value="random_forest"' in page and 'name="model.random_forest.n_estimators"' in page


def test_the_live_check_puts_each_problem_at_its_field(browser_for):
    alice = browser_for("alice")
    body = {**FLCORE, "strategy": "fedprox", "strategy.fedprox.mu": "-1", "clients": ["hospital-b", "nosuch"]}

    first = alice.post("/tools/flcore/validate", data={**FLCORE, "rounds": "many"}, headers={"X-CSRF-Token": alice.csrf})
    hosts = alice.post("/tools/flcore/validate", data={**body, "strategy.fedprox.mu": "0.1"},
                       headers={"X-CSRF-Token": alice.csrf})
    strategy = alice.post("/tools/flcore/validate", data={**FLCORE, "strategy": "fedprox", "strategy.fedprox.mu": "-1"},
                          headers={"X-CSRF-Token": alice.csrf})
    fine = alice.post("/tools/flcore/validate", data=FLCORE, headers={"X-CSRF-Token": alice.csrf})

    assert first.status_code == 200
    assert re.search(r'id="problem-rounds"[^>]*hx-swap-oob="true">rounds: &#39;many&#39; is not a whole number<', first.text)
    assert re.search(r'id="problem-clients"[^>]*>clients: host\(s\) not connected: nosuch', hosts.text)
    assert re.search(r'id="problem-strategy-fedprox-mu"[^>]*>strategy.mu: ', strategy.text)
    assert 'data-testid="valid"' in fine.text and 'hx-swap-oob="true"></small>' in fine.text  # slots emptied


def test_submitting_twice_with_one_token_starts_one_execution(browser_for, federation):
    alice = browser_for("alice")
    token = _token(alice.get("/tools/flcore").text)

    first = alice.post("/tools/flcore/run", data={**FLCORE, "submit_token": token},
                       headers={"X-CSRF-Token": alice.csrf, "HX-Request": "true"})
    again = alice.post("/tools/flcore/run", data={**FLCORE, "submit_token": token},
                       headers={"X-CSRF-Token": alice.csrf, "HX-Request": "true"})

    assert first.status_code == 200 and first.headers["HX-Redirect"].startswith("/executions/")
    assert again.headers["HX-Redirect"] == first.headers["HX-Redirect"]
    assert len(federation.prefect.submitted) == 1
    submitted = federation.prefect.submitted[0]
    assert submitted["owner"] == "alice" and submitted["key"] == f"fedpe:alice:{token}"
    assert submitted["parameters"]["clients"] == ["hospital-b", "hospital-c"]
    assert submitted["parameters"]["rounds"] == 3 and submitted["parameters"]["strategy"] == {"name": "fedavg"}


def test_the_same_token_with_other_values_says_which_run_it_started(browser_for, federation):
    alice = browser_for("alice")
    token = _token(alice.get("/tools/flcore").text)
    alice.post("/tools/flcore/run", data={**FLCORE, "submit_token": token}, headers={"X-CSRF-Token": alice.csrf})

    changed = alice.post("/tools/flcore/run", data={**FLCORE, "rounds": "4", "submit_token": token},
                         headers={"X-CSRF-Token": alice.csrf, "HX-Request": "true"})

    assert changed.status_code == 422 and "already started execution" in changed.text
    assert len(federation.prefect.submitted) == 1


def test_a_refused_submission_starts_nothing_and_shows_why(browser_for, federation):
    alice = browser_for("alice")

    htmx = alice.post("/tools/flcore/run", data={**FLCORE, "server": ""},
                      headers={"X-CSRF-Token": alice.csrf, "HX-Request": "true"})
    plain = alice.post("/tools/flcore/run", data={**FLCORE, "clients": [], "csrf_token": alice.csrf})

    assert htmx.status_code == 422 and "server: required" in htmx.text and "<html" not in htmx.text
    assert plain.status_code == 422 and "<html" in plain.text and "clients: required" in plain.text
    assert 'value="hospital-a" selected' in plain.text  # the form comes back as it was sent
    assert federation.prefect.submitted == []


def test_a_plain_form_post_without_htmx_is_redirected_to_the_execution(browser_for, federation):
    alice = browser_for("alice")

    response = alice.post("/tools/health-check/run", data={"csrf_token": alice.csrf})

    assert response.status_code == 303 and response.headers["location"].startswith("/executions/")
    assert federation.prefect.submitted[0]["parameters"]["hosts"] == ["hospital-a", "hospital-b", "hospital-c"]


def test_edit_and_run_fills_the_form_from_an_execution(browser_for, federation):
    execution_id = federation.training("alice")
    alice = browser_for("alice")

    page = alice.get(f"/tools/flcore?from_execution={execution_id}").text

    assert 'name="clients" value="hospital-c" checked' in page
    assert '<option value="hospital-a" selected' in page and 'name="rounds" type="number" step="1" value="5"' in page
