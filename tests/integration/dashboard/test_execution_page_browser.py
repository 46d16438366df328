"""The execution page's metric chooser and audit anchors in a real browser over the real federation:
a training's second chart follows the metric chosen, on the live page too (the rounds that arrive
keep the choice); a fed-stats execution lists one audit anchor per host role, in the API as in the
store, and on the page with the command a host operator runs to check it."""

from __future__ import annotations

import json
import re
import uuid

import httpx
import pytest

from blocks.store import StoreSpec
from federation_helpers import wait_until

pytestmark = pytest.mark.integration

PASSWORD = "execution-page-test-password"
HEX64 = re.compile(r"^[0-9a-f]{64}$")
# A training long enough to pause in its first rounds (tens of ms each here).
TRAINING = {"dataset": "digits", "rounds": 300, "model": {"name": "mlp", "hidden": 16}, "local_epochs": 3,
            "batch_size": 4, "learning_rate": 0.02, "round_timeout_s": 20, "checkpoint_every": 0,
            "strategy": {"name": "fedavg"}}


def plotted(page) -> dict:
    """What the chosen metric's chart draws: its metric, rounds, global and per-client numbers."""
    raw = page.get_attribute("#chart-metric", "data-plotted")
    drawn = json.loads(raw) if raw else {"round": [], "global": [], "clients": {}}
    return {**drawn, "metric": page.get_attribute("#chart-metric", "data-metric")}


@pytest.fixture
def researcher(stack):
    """A user (not an admin) with a password for the dashboard and an API client as themselves."""
    from fedpe.auth import UserStore

    name = f"page-{uuid.uuid4().hex[:6]}"
    _, key = UserStore(stack.config.home).add(name, password=PASSWORD)
    with httpx.Client(base_url=f"{stack.config.api_url}/api/v1", headers={"Authorization": f"Bearer {key}"},
                      timeout=30) as api:
        api.user = name
        yield api


def sign_in(page, base: str, name: str) -> None:
    page.goto(f"{base}/login")
    page.fill("input[name=username]", name)
    page.fill("input[name=password]", PASSWORD)
    page.click("#login-form button[type=submit]")
    page.wait_for_url(f"{base}/")


def finished(api, execution_id: str, timeout_s: float = 300) -> list[dict]:
    return wait_until(lambda: (s := api.get(f"/executions/status/{execution_id}").json())
                      and not any(e["status"] in ("running", "pending") for e in s) and s,
                      timeout_s=timeout_s, what=f"{execution_id} finished", every_s=0.5)


def control(api, execution_id: str, action: str) -> None:
    response = api.post(f"/executions/{execution_id}/control", json={"action": action})
    assert response.status_code == 200, response.text


def test_the_second_chart_follows_the_metric_chosen_while_rounds_arrive(chromium, page, stack, researcher):
    base = stack.config.api_url
    hosts = {"server_node": "hospital-a", "client_nodes": ["hospital-b", "hospital-c"]}
    submitted = researcher.post("/tools/job/flcore", params=hosts, json=TRAINING)
    assert submitted.status_code == 200, submitted.text
    execution_id = submitted.json()["execution_id"]
    # Held after its first rounds, so the page opens on a training that is still live
    wait_until(lambda: researcher.get(f"/executions/{execution_id}/metrics").json()["rows"], timeout_s=120,
               what="a first round")
    control(researcher, execution_id, "pause")
    wait_until(lambda: researcher.get(f"/executions/{execution_id}").json()["paused"], what="the pause")
    sign_in(page, base, researcher.user)
    page.goto(f"{base}/executions/{execution_id}")
    page.wait_for_selector('#execution[data-stream="live"]')

    # It starts on accuracy; the choices are the rounds' metrics, not their counts and timings
    first = wait_until(lambda: len(plotted(page)["round"]) >= 1 and plotted(page), what="a plotted round")
    assert first["metric"] == "accuracy" and page.input_value("#curve-metric") == "accuracy"
    options = page.eval_on_selector_all("#curve-metric option", "os => os.map(o => o.value)")
    assert {"accuracy", "balanced_accuracy", "f1", "loss", "precision", "recall", "roc_auc"} <= set(options)
    assert not {"round_ms", "num_examples", "n"} & set(options)
    assert page.locator('label[for="curve-metric"]').inner_text() == "Metric"

    # Choose f1: the chart is redrawn with f1, global and per client
    page.select_option("#curve-metric", "f1")
    chosen = plotted(page)
    assert chosen["metric"] == "f1" and page.locator("#chart-metric .u-title").inner_text() == "f1"
    assert page.get_attribute("#chart-metric", "aria-label") == "f1 per round"
    rows = {r["round"]: r for r in researcher.get(f"/executions/{execution_id}/metrics").json()["rows"]}
    assert chosen["round"] == first["round"] and chosen["global"] == [rows[r]["metrics"]["f1"] for r in chosen["round"]]
    assert chosen["global"] != first["global"]
    assert page.locator("#chart-loss .u-title").inner_text() == "loss"  # the loss chart stays

    # Resumed, new rounds arrive through the stream and keep the choice; what is drawn is /metrics' f1
    control(researcher, execution_id, "resume")
    grown = wait_until(lambda: len(plotted(page)["round"]) >= len(chosen["round"]) + 2 and plotted(page),
                       timeout_s=60, what="two more rounds after the choice")
    assert grown["metric"] == "f1" and page.input_value("#curve-metric") == "f1"
    assert page.locator("#chart-metric .u-title").inner_text() == "f1"
    rows = {r["round"]: r for r in researcher.get(f"/executions/{execution_id}/metrics").json()["rows"]}
    assert grown["global"] == [rows[r]["metrics"]["f1"] for r in grown["round"]]
    assert set(grown["clients"]) == {"hospital-b", "hospital-c"}
    for host, values in grown["clients"].items():
        assert values == [rows[r]["per_client"].get(host, {}).get("f1") for r in grown["round"]]

    # Back to accuracy: redrawn again
    page.select_option("#curve-metric", "accuracy")
    back = plotted(page)
    assert back["metric"] == "accuracy" and page.locator("#chart-metric .u-title").inner_text() == "accuracy"
    assert back["global"][:len(grown["round"])] == [rows[r]["metrics"]["accuracy"] for r in grown["round"]]

    stopped = researcher.post(f"/executions/{execution_id}/control", json={"action": "stop"})
    assert stopped.status_code in (200, 409), stopped.text  # 409: it ended on its own meanwhile
    page.wait_for_selector('#execution[data-stream="ended"]', timeout=120_000)
    assert page.errors == []


def test_the_audit_anchors_of_an_execution_in_the_api_the_store_and_the_page(chromium, page, stack, researcher):
    from fedpe.auth import UserStore

    base = stack.config.api_url
    submitted = researcher.post("/tools/job/fed-stats", params={"client_nodes": list(stack.hosts)},
                                json={"dataset": "breast-cancer", "columns": ["mean_radius"], "min_count": 5})
    assert submitted.status_code == 200, submitted.text
    execution_id = submitted.json()["execution_id"]
    statuses = finished(researcher, execution_id)
    assert all(s["status"] == "completed" for s in statuses), statuses

    # The API: one anchor per host role, as the coordinator stored it
    anchors = researcher.get(f"/executions/{execution_id}/audit").json()
    assert sorted((a["host"], a["task"]) for a in anchors) == sorted((s["node"], s["task"]) for s in statuses)
    assert {a["host"] for a in anchors} == set(stack.hosts)
    store = StoreSpec(url=stack.config.store)
    for anchor in anchors:
        assert isinstance(anchor["seq"], int) and anchor["seq"] > 0 and HEX64.match(anchor["hash"])
        stored = json.loads(store.read_bytes(execution_id, "_audit", f"{anchor['host']}.{anchor['task']}.json"))
        assert (anchor["seq"], anchor["hash"], anchor["expect"]) == (stored["seq"], stored["hash"], stored["expect"])
        assert anchor["expect"] == f"{anchor['seq']}:{anchor['hash']}"

    # The SDK and the CLI read the same anchors
    import os
    import subprocess
    import sys

    from fedpe.sdk import Session

    key = researcher.headers["Authorization"].removeprefix("Bearer ")
    with Session(f"{base}/api/v1", api_key=key) as session:
        assert session.audit(execution_id) == anchors
    cli = subprocess.run([sys.executable, "-m", "fedpe.cli", "executions", "audit", execution_id, "--json"],
                         capture_output=True, text=True, timeout=60,
                         env={**os.environ, "FEDPE_API_URL": f"{base}/api/v1", "FEDPE_API_KEY": key})
    assert cli.returncode == 0, cli.stderr
    assert json.loads(cli.stdout) == anchors

    # Only the owner and admins read them; an unknown execution is the other routes' 404
    _, other_key = UserStore(stack.config.home).add(f"other-{uuid.uuid4().hex[:6]}")
    other = researcher.get(f"/executions/{execution_id}/audit", headers={"Authorization": f"Bearer {other_key}"})
    assert other.status_code == 403 and other.json()["error"]["code"] == "FORBIDDEN"
    unknown = str(uuid.uuid4())
    missing = researcher.get(f"/executions/{unknown}/audit")
    assert missing.status_code == 404 and missing.json() == researcher.get(f"/executions/{unknown}/metrics").json()

    # The page: a row per anchor with its line, its hash (short, whole in the title) and the command
    sign_in(page, base, researcher.user)
    page.goto(f"{base}/executions/{execution_id}")
    page.wait_for_selector("#audit table.audit")
    assert page.locator("#audit tbody tr").count() == len(anchors)
    for anchor in anchors:
        row = page.locator(f'#audit tr[data-host="{anchor["host"]}"][data-task="{anchor["task"]}"]')
        assert row.get_attribute("data-seq") == str(anchor["seq"]) and row.get_attribute("data-hash") == anchor["hash"]
        cells = row.locator("td").all_inner_texts()
        assert cells[:3] == [anchor["host"], anchor["task"], str(anchor["seq"])]
        assert row.locator("td code[title]").get_attribute("title") == anchor["hash"]
        assert cells[3] == f"{anchor['hash'][:12]}…"
        assert cells[4] == f"fedpe host audit --data-dir DIR --verify --expect {anchor['expect']}"
    assert page.errors == []
