"""The dashboard in a real browser over the real federation, as a researcher uses it: sign in,
see the three demo hosts, start flcore from the form, watch the curves grow round by round (the
plotted numbers are /metrics' numbers), read a log line, pause and resume, stop, download a file
and compare its bytes with the store's, sign out. A screenshot of each page lands in the test's
temporary folder; the execution page's is copied to docs/dashboard-execution.png for the README."""

from __future__ import annotations

import json
import shutil
import time
import uuid
from pathlib import Path

import httpx
import pytest

from blocks.store import StoreSpec
from federation_helpers import wait_until

pytestmark = pytest.mark.integration

DOCS = Path(__file__).resolve().parents[3] / "docs"
PASSWORD = "dashboard-test-password"
# Rounds slow enough to watch and to pause between (about a second each here).
SLOW = {"dataset": "digits", "local_epochs": "3", "batch_size": "4", "learning_rate": "0.02", "round_timeout_s": "20",
        "rounds": "300", "checkpoint_every": "0"}


def plotted(page, metric: str) -> dict:
    raw = page.get_attribute(f'.chart[data-metric="{metric}"]', "data-plotted")
    return json.loads(raw) if raw else {"round": [], "global": [], "clients": {}}


def shot(page, tmp_path: Path, name: str) -> Path:
    path = tmp_path / f"dashboard-{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


@pytest.fixture
def researcher(stack):
    """An admin with a password (the dashboard's sign-in) and an API key (to read /metrics)."""
    from fedpe.auth import UserStore

    name = f"dash-{uuid.uuid4().hex[:6]}"
    _, key = UserStore(stack.config.home).add(name, admin=True, password=PASSWORD)
    return name, key


def test_a_training_from_sign_in_to_sign_out(chromium, page, stack, researcher, tmp_path):
    name, key = researcher
    base = stack.config.api_url
    api = httpx.Client(base_url=f"{base}/api/v1", headers={"Authorization": f"Bearer {key}"}, timeout=30)

    # Sign in: a signed-out page goes to /login first
    page.goto(f"{base}/hosts")
    assert "/login?next=%2Fhosts" in page.url
    shot(page, tmp_path, "login")
    page.fill("input[name=username]", name)
    page.fill("input[name=password]", PASSWORD)
    page.click("#login-form button[type=submit]")
    page.wait_for_url(f"{base}/hosts")

    # The network: the three demo hosts, online, with their datasets
    for host in stack.hosts:
        page.wait_for_selector(f'tr[data-host="{host}"][data-state="running"]')
        assert page.locator(f'tr[data-host="{host}"] li[data-dataset="digits"]').count() == 1
    shot(page, tmp_path, "hosts")
    page.goto(f"{base}/")
    page.wait_for_selector('#health tr[data-service="prefect"][data-status="connected"]')
    shot(page, tmp_path, "overview")

    # Start flcore from its form: hosts picked, the mlp tab with its own field, slow rounds
    page.goto(f"{base}/tools")
    shot(page, tmp_path, "tools")
    page.click('article[data-tool="flcore"] a.button')
    page.wait_for_url(f"{base}/tools/flcore")
    page.select_option("select[name=server]", "hospital-a")
    for client in ("hospital-b", "hospital-c"):
        page.check(f'input[name=clients][value="{client}"]')
    page.select_option("select[name=dataset]", SLOW["dataset"])
    assert page.locator('input[name="model.mlp.hidden"]').is_hidden()
    page.click('label.tab:has(input[name=model][value=mlp])')
    assert page.locator('input[name="model.mlp.hidden"]').is_visible()
    page.fill('input[name="model.mlp.hidden"]', "16")
    for field in ("local_epochs", "batch_size", "learning_rate", "round_timeout_s", "rounds", "checkpoint_every"):
        page.fill(f"input[name={field}]", SLOW[field])
    page.locator("input[name=rounds]").dispatch_event("change")
    page.wait_for_selector('[data-testid="valid"]')  # the live check passed
    shot(page, tmp_path, "tool")
    page.dblclick("#start")  # a double click starts one execution (the submit token)
    page.wait_for_url(f"{base}/executions/*")
    execution_id = page.url.rsplit("/", 1)[-1]
    mine = api.get("/executions", params={"tool": "flcore", "limit": 1000}).json()["executions"]
    assert len([e for e in mine if e["owner"] == name]) == 1

    # The curves grow round by round, and what they plot is what /metrics says
    first = wait_until(lambda: len(plotted(page, "accuracy")["round"]) >= 2 and plotted(page, "accuracy"),
                       timeout_s=120, what="two plotted rounds")
    grown = wait_until(lambda: len(plotted(page, "accuracy")["round"]) >= len(first["round"]) + 2
                       and plotted(page, "accuracy"), timeout_s=60, what="two more plotted rounds")
    rows = {r["round"]: r for r in api.get(f"/executions/{execution_id}/metrics").json()["rows"]}
    for metric in ("accuracy", "loss"):
        drawn = plotted(page, metric)
        assert drawn["round"] == sorted(drawn["round"]) and drawn["round"][0] == 1
        assert drawn["global"] == [rows[r]["metrics"][metric] for r in drawn["round"]]
        for host, values in drawn["clients"].items():
            assert values == [rows[r]["per_client"].get(host, {}).get(metric) for r in drawn["round"]]
    assert set(grown["clients"]) == {"hospital-b", "hospital-c"}

    # A log line of the server's rounds; the host filter keeps only that host's lines
    line = page.locator("#log-lines li", has_text="round 1/300: accuracy")
    line.first.wait_for()
    assert line.first.get_attribute("data-node") == "hospital-a"
    page.select_option("#log-node", "hospital-b")
    assert page.locator('#log-lines li[data-node="hospital-a"]:visible').count() == 0
    page.select_option("#log-node", "")

    # Pause: the rounds hold; resume: they go on
    page.click('button[data-action="pause"]')
    page.wait_for_selector('#status[data-paused="true"]', timeout=60_000)
    held = len(plotted(page, "accuracy")["round"])
    time.sleep(3)
    assert len(plotted(page, "accuracy")["round"]) <= held + 1  # at most the round under way when asked
    held = len(plotted(page, "accuracy")["round"])
    page.wait_for_selector('button[data-action="resume"]')
    page.click('button[data-action="resume"]')
    wait_until(lambda: len(plotted(page, "accuracy")["round"]) > held, timeout_s=60, what="a round after resume")
    page.wait_for_selector('#status[data-paused="false"]')

    # Stop: it ends after the current round, writes its outputs and completes
    page.click('button[data-action="stop"]')
    page.wait_for_selector('#execution[data-stream="ended"]', timeout=120_000)
    page.wait_for_selector('#status[data-status="completed"]')
    page.wait_for_selector('#files tr[data-host="hospital-a"][data-file="metrics.csv"]')
    final = api.get(f"/executions/{execution_id}/metrics").json()["rows"]
    drawn = plotted(page, "accuracy")
    assert drawn["round"] == [r["round"] for r in final] and 4 < len(final) < 300
    assert drawn["global"] == [r["metrics"]["accuracy"] for r in final]
    assert page.locator("#rounds-table tbody tr").count() == len(final)
    assert page.get_attribute('[data-testid="prefect-link"]', "href").endswith(f"/runs/flow-run/{execution_id}")
    assert "/#/runs/" in page.get_attribute('[data-testid="mlflow-link"]', "href")

    # Download a file: the bytes are the store's
    with page.expect_download() as download:
        page.click('#files tr[data-host="hospital-a"][data-file="metrics.csv"] a')
    got = Path(download.value.path()).read_bytes()
    assert got == StoreSpec(url=stack.config.store).read_bytes(execution_id, "hospital-a", "metrics.csv")
    assert got.startswith(b"round,")

    # The HTML report: linked among the files, it opens from disk with the network off, fetching nothing
    page.wait_for_selector('#files tr[data-host="hospital-a"][data-file="report.html"]')
    with page.expect_download() as download:
        page.click('#files tr[data-host="hospital-a"][data-file="report.html"] a')
    report = tmp_path / "report.html"
    shutil.copyfile(download.value.path(), report)
    offline = chromium.new_context(offline=True)
    try:
        viewer = offline.new_page()
        requested: list[str] = []
        viewer.on("request", lambda request: requested.append(request.url))
        viewer.goto(report.as_uri())
        assert requested == [report.as_uri()]
        assert viewer.locator("svg").count() >= 2 and viewer.locator("svg polyline").count() >= 2
        for section in ("parameters", "curves", "metrics", "confusion", "participation", "preparation"):
            assert viewer.locator(f"#{section}").count() == 1, section
    finally:
        offline.close()

    page.evaluate("window.scrollTo(0, 0)")
    execution_png = shot(page, tmp_path, "execution")
    DOCS.mkdir(exist_ok=True)
    shutil.copyfile(execution_png, DOCS / "dashboard-execution.png")
    page.goto(f"{base}/executions")
    page.wait_for_selector(f'tr[data-execution="{execution_id}"][data-status="completed"]')
    shot(page, tmp_path, "executions")
    page.goto(f"{base}/users")
    page.wait_for_selector(f'tr[data-user="{name}"]')
    shot(page, tmp_path, "users")

    # Sign out: back to /login, and the pages are closed again
    page.click("header .who button[type=submit]")
    page.wait_for_url(f"{base}/login")
    page.goto(f"{base}/executions/{execution_id}")
    assert "/login" in page.url
    assert page.errors == []
    for name_ in ("login", "hosts", "overview", "tools", "tool", "execution", "executions", "users"):
        assert (tmp_path / f"dashboard-{name_}.png").stat().st_size > 10_000
