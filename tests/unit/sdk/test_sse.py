"""Server-sent events: the decoder's rules and `stream_events` over a streamed response."""

from __future__ import annotations

import httpx
import pytest

from fedpe.errors import FedpeError, JobNotFound, NoConnection
from fedpe.sdk import Event, Session
from fedpe.sdk._sse import SSEDecoder, iter_sse

URL = "http://fedpe.test/api/v1"


def _events(text: str) -> list[Event]:
    return list(iter_sse(text.splitlines()))


def test_event_name_and_json_data() -> None:
    events = _events('event: round\ndata: {"round": 2, "rounds": 5, "metrics": {"loss": 0.3}}\n\n')

    assert events == [Event(event="round", data={"round": 2, "rounds": 5, "metrics": {"loss": 0.3}})]


def test_data_lines_are_joined_and_text_stays_text() -> None:
    events = _events("event: log\ndata: first line\ndata: second line\n\n")

    assert events[0].data == "first line\nsecond line"


def test_comments_blank_runs_and_no_data_events_are_skipped() -> None:
    events = _events(": ping\n\n\nevent: status\n\nevent: status\ndata: {\"status\": \"running\"}\n\n")

    assert [(e.event, e.data) for e in events] == [("status", {"status": "running"})]


def test_default_name_id_retry_and_crlf() -> None:
    decoder = SSEDecoder()
    lines = ["id: 7\r\n", "retry: 1500\r\n", "data:no-space\r\n", "\r\n", "data: 2\r\n", "\r\n"]

    events = [e for e in (decoder.decode(line) for line in lines) if e]

    assert events[0] == Event(event="message", data="no-space", id="7", retry=1500)
    assert events[1] == Event(event="message", data=2, id="7")
    assert decoder.last_event_id == "7"


def test_an_unfinished_event_at_the_end_is_dropped() -> None:
    assert _events('event: done\ndata: {"status": "completed"}') == []


def _stream(body: bytes, content_type: str = "text/event-stream") -> Session:
    def handler(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/api/v1/executions/e1/stream"
        return httpx.Response(200, headers={"content-type": content_type}, stream=httpx.ByteStream(body))
    return Session(URL, "key", transport=httpx.MockTransport(handler))


def test_stream_events_yields_until_done() -> None:
    # Prepare
    body = (b'event: status\ndata: {"status": "running"}\n\n'
            b': keep-alive\n\n'
            b'event: round\ndata: {"round": 1, "rounds": 2}\n\n'
            b'event: log\ndata: {"node": "hospital-a", "message": "hi"}\n\n'
            b'event: done\ndata: {"status": "completed"}\n\n'
            b'event: status\ndata: {"status": "never read"}\n\n')

    # Execute
    events = list(_stream(body).stream_events("e1"))

    # Assert
    assert [e.event for e in events] == ["status", "round", "log", "done"]
    assert events[-1].data == {"status": "completed"}


def test_stream_events_refuses_a_response_that_is_not_an_event_stream() -> None:
    with pytest.raises(FedpeError, match="server-sent events"):
        list(_stream(b"{}", content_type="application/json").stream_events("e1"))


def test_stream_events_on_an_unknown_job_raises_job_not_found() -> None:
    session = Session(URL, "key", transport=httpx.MockTransport(lambda r: httpx.Response(
        404, json={"error": {"code": "EXECUTION_NOT_FOUND", "message": "no e1", "details": {}}})))

    with pytest.raises(JobNotFound):
        next(iter(session.stream_events("e1")))


def test_a_stream_broken_off_is_no_connection() -> None:
    class Broken(httpx.SyncByteStream):
        def __iter__(self):
            yield b'event: status\ndata: {"status": "running"}\n\n'
            raise httpx.RemoteProtocolError("peer closed connection without sending complete message body")

    session = Session(URL, "key", transport=httpx.MockTransport(
        lambda r: httpx.Response(200, headers={"content-type": "text/event-stream"}, stream=Broken())))
    seen = []

    with pytest.raises(NoConnection):
        for event in session.stream_events("e1"):
            seen.append(event.event)
    assert seen == ["status"]
