"""Server-sent events (`text/event-stream`) decoded line by line, without I/O.

The rules are the WHATWG ones: `field: value` lines (one leading space dropped), `data`
lines joined with newlines, comments start with `:`, a blank line dispatches the event,
an event with no data is not dispatched, an unfinished event at the end of the stream is
dropped. The data of an event is decoded as JSON when it parses.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Iterator

from fedpe.sdk._models import Event


class SSEDecoder:
    """Feed it lines (without their line ending); it returns an `Event` on each blank line that ends one."""

    def __init__(self) -> None:
        self._event = ""
        self._data: list[str] = []
        self._retry: int | None = None
        self.last_event_id: str | None = None

    def decode(self, line: str) -> Event | None:
        line = line.rstrip("\r\n")
        if not line:
            return self._dispatch()
        if line.startswith(":"):
            return None
        name, _, value = line.partition(":")
        if value.startswith(" "):
            value = value[1:]
        if name == "event":
            self._event = value
        elif name == "data":
            self._data.append(value)
        elif name == "id":
            if "\0" not in value:
                self.last_event_id = value
        elif name == "retry":
            if value.isdigit():
                self._retry = int(value)
        return None

    def _dispatch(self) -> Event | None:
        if not self._data:
            self._event, self._retry = "", None
            return None
        text = "\n".join(self._data)
        try:
            data = json.loads(text)
        except ValueError:
            data = text
        event = Event(event=self._event or "message", data=data, id=self.last_event_id, retry=self._retry)
        self._event, self._data, self._retry = "", [], None
        return event


def iter_sse(lines: Iterable[str]) -> Iterator[Event]:
    """The events of a stream given as lines."""
    decoder = SSEDecoder()
    for line in lines:
        event = decoder.decode(line)
        if event is not None:
            yield event


async def aiter_sse(lines: AsyncIterable[str]) -> AsyncIterator[Event]:
    """The events of a stream given as lines, asynchronously."""
    decoder = SSEDecoder()
    async for line in lines:
        event = decoder.decode(line)
        if event is not None:
            yield event
