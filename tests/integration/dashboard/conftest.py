"""A real headless Chromium (Debian's `chromium`) driven by Playwright, over the real federation.

Playwright is pointed at the system browser (`executable_path`); it never downloads one. Without
chromium or Playwright the browser tests are skipped, and the end of the run says so loudly.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
HERE = Path(__file__).parent


def _why_not() -> str | None:
    if shutil.which("chromium") is None:
        return "no chromium on PATH (apt-get install -y chromium chromium-driver)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Playwright is not installed (pip install -e '.[test]')"
    return None


@pytest.fixture(scope="module")
def chromium():
    """One browser per module: Playwright's sync API runs an event loop in this thread while it is
    open, and Prefect's sync calls in later modules must not find one running."""
    reason = _why_not()
    if reason:
        pytest.skip(f"browser test skipped: {reason}")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=shutil.which("chromium"), args=CHROMIUM_ARGS,
                                             headless=True)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page(chromium):
    context = chromium.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(30_000)
    page.errors = []
    page.on("pageerror", lambda exc: page.errors.append(str(exc)))
    try:
        yield page
    finally:
        context.close()


def pytest_terminal_summary(terminalreporter):
    skipped = [r for r in terminalreporter.stats.get("skipped", []) if "integration/dashboard" in str(r.nodeid)]
    if skipped:
        reason = _why_not() or "see the skip reasons above"
        terminalreporter.write_sep("!", f"{len(skipped)} BROWSER TEST(S) SKIPPED: {reason}", red=True, bold=True)
