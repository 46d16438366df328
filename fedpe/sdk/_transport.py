"""Where HTTP becomes fedpe: transport failures and error responses turned into `fedpe.errors`.

Two places only, as in httpx: `map_exceptions` for what fails before a response exists
(connection refused, timeouts, a broken stream), `raise_for_status` for every non-2xx
response (through `fedpe.errors.from_response`, the inverse of what the API sends). A body
the fedpe API would never send (an HTML page, another service's JSON) means the URL points
somewhere else: `NoConnection` saying so, whatever the status.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from typing import Any

import httpx
from pydantic import ValidationError

from fedpe.errors import FedpeError, InvalidArgument, NoConnection, from_response


@contextlib.contextmanager
def map_exceptions(url: object) -> Iterator[None]:
    """Re-raise httpx's transport errors as fedpe errors naming the API at `url`."""
    try:
        yield
    except httpx.TimeoutException as exc:
        raise NoConnection(f"the fedpe API at {url} did not answer in time ({type(exc).__name__})") from exc
    except httpx.UnsupportedProtocol as exc:
        raise InvalidArgument(f"the API URL must start with http:// or https:// (got {url})", field="url") from exc
    except httpx.TransportError as exc:
        raise NoConnection(f"cannot reach the fedpe API at {url}: {exc or type(exc).__name__}") from exc
    except httpx.InvalidURL as exc:
        raise InvalidArgument(f"invalid API URL {url}: {exc}", field="url") from exc
    except httpx.HTTPError as exc:  # DecodingError, TooManyRedirects
        raise FedpeError(f"bad response from the fedpe API at {url}: {exc}") from exc


def not_fedpe(response: httpx.Response) -> NoConnection:
    """The one-line error for an answer that does not come from the fedpe API (MLflow, a proxy…)."""
    request = response.request
    where = str(request.url.copy_with(query=None, fragment=None))
    status = f"{response.status_code} {response.reason_phrase}".strip()
    media_type = response.headers.get("content-type", "").split(";")[0].strip() or "no content type"
    text = " ".join(response.text.split())[:80] if media_type == "text/plain" else ""
    said = f" ({media_type}: {text!r})" if text else f" ({media_type})"
    return NoConnection(f"{where} answered {status} with a non-fedpe body{said}: is FEDPE_API_URL the fedpe API?",
                        details={"url": where, "status_code": response.status_code, "content_type": media_type})


def _is_error_body(body: Any) -> bool:
    """The fedpe API's error body, or FastAPI's `{"detail": ...}` (read by `from_response` too)."""
    return isinstance(body, dict) and (isinstance(body.get("error"), dict) or "detail" in body)


def _error_body(response: httpx.Response) -> Any:
    body = response.json()
    # FastAPI's own validation answer ({"detail": [{"loc", "msg"}]}) read as the fedpe error body.
    detail = body.get("detail") if isinstance(body, dict) else None
    if isinstance(detail, list) and detail and isinstance(detail[0], dict):
        first = detail[0]
        loc = [str(part) for part in first.get("loc", ()) if part not in ("body", "query", "path")]
        message = str(first.get("msg") or "invalid request")
        return {"error": {"code": "VALIDATION_ERROR",
                          "message": f"{'.'.join(loc)}: {message}" if loc else message,
                          "details": {"field": ".".join(loc) or None, "errors": detail}}}
    return body


def raise_for_status(response: httpx.Response) -> None:
    """Raise the fedpe exception a non-2xx `response` stands for (its body must have been read)."""
    if response.is_success:
        return
    try:
        body = _error_body(response)
    except ValueError:
        body = None
    if not _is_error_body(body):
        raise not_fedpe(response)
    raise from_response(response.status_code, body)


def decode_json(response: httpx.Response) -> Any:
    """The JSON body of a 2xx response; `not_fedpe` when the answer is not JSON."""
    try:
        return response.json()
    except (ValueError, json.JSONDecodeError) as exc:
        raise not_fedpe(response) from exc


@contextlib.contextmanager
def unexpected_shape(response: httpx.Response) -> Iterator[None]:
    """Turn a response the models cannot read into one FedpeError naming the request."""
    try:
        yield
    except (ValidationError, KeyError, TypeError, AttributeError) as exc:
        raise FedpeError(f"unexpected answer to {response.request.method} {response.request.url.path}: "
                         f"{str(exc).splitlines()[0]}") from exc
