"""The answers that are not JSON models: logs as text or JSON lines, the metrics as CSV, and
output files as downloads. One place, so the API and the dashboard send the same bytes, headers
and file names for the same thing.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterable, Iterator, Mapping
from typing import Any, Literal
from urllib.parse import quote

from fastapi.responses import PlainTextResponse, Response, StreamingResponse

from fedpe.api.services.executions import metrics_csv

NDJSON = "application/x-ndjson"
CSV = "text/csv; charset=utf-8"


def log_text(lines: Iterable[Mapping[str, Any]]) -> PlainTextResponse:
    """The log as people read it: time, level, `[host]` (`[flow]` for the flow's own lines), message."""
    return PlainTextResponse("".join(f"{line['timestamp']} {line['level']:<8} [{line['node'] or 'flow'}] "
                                     f"{line['message']}\n" for line in lines))


def log_json_lines(lines: Iterable[Mapping[str, Any]]) -> Response:
    """The log as programs read it: one JSON object per line (`fedpe.schemas.LogRecord`)."""
    return Response("".join(json.dumps(line) + "\n" for line in lines), media_type=NDJSON)


def logs(lines: Iterable[Mapping[str, Any]], format: Literal["text", "json"] = "text") -> Response:
    """`GET /executions/logs/{id}`: text, or JSON lines with `format=json`."""
    return log_json_lines(lines) if format == "json" else log_text(lines)


def metrics_download(body: Mapping[str, Any]) -> Response:
    """The `/metrics` body's rows as a CSV file named after the execution (`ID-metrics.csv`)."""
    return Response(metrics_csv(body["rows"]), media_type=CSV, headers={
        "Content-Disposition": f'attachment; filename="{body["execution_id"]}-metrics.csv"'})


def download(chunks: Iterator[bytes] | AsyncIterator[bytes], name: str, media_type: str, size: int | None) -> StreamingResponse:
    """A file streamed as an attachment; the name is RFC 5987-quoted so any host's file name survives."""
    headers = {"Content-Disposition": f"attachment; filename*=UTF-8''{quote(name)}"}
    if size is not None:
        headers["Content-Length"] = str(size)
    return StreamingResponse(chunks, media_type=media_type, headers=headers)
