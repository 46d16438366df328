"""`fedpe up`'s readiness checks share one HTTP client, closed once the stack is up."""

from __future__ import annotations

from fedpe.stack import launcher


def test_the_readiness_client_answers_no_for_a_closed_port_and_is_closed_after_use():
    assert launcher._http_ok("http://127.0.0.1:1/health") is False  # nothing listens on port 1
    client = launcher._probe()
    assert launcher._probe() is client  # one client for every check
    launcher._close_probe()
    assert client.is_closed and launcher._probe.cache_info().currsize == 0
    launcher._close_probe()  # closing twice is harmless
