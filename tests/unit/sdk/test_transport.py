"""Every error response and transport failure becomes the one typed fedpe exception."""

from __future__ import annotations

import httpx
import pytest

from fedpe.errors import (
    AuthenticationError, AuthorizationError, Conflict, FedpeError, HostNotAvailable, InvalidArgument, JobNotFound,
    JobTimeout, NoConnection, NotFound,
)
from fedpe.sdk import Session

URL = "http://fedpe.test/api/v1"


def _session(handler) -> Session:
    return Session(URL, "key", transport=httpx.MockTransport(handler))


def _error(status: int, code: str, message: str = "nope", **details) -> httpx.Response:
    return httpx.Response(status, json={"error": {"code": code, "message": message, "details": details}})


@pytest.mark.parametrize(("response", "expected"), [
    (_error(401, "UNAUTHENTICATED"), AuthenticationError),
    (_error(403, "FORBIDDEN"), AuthorizationError),
    (_error(404, "EXECUTION_NOT_FOUND"), JobNotFound),
    (_error(404, "NOT_FOUND"), NotFound),
    (_error(409, "CONFLICT"), Conflict),
    (_error(422, "VALIDATION_ERROR", field="rounds"), InvalidArgument),
    (_error(422, "HOST_NOT_AVAILABLE", field="client_nodes"), HostNotAvailable),
    (_error(503, "SERVICE_UNAVAILABLE"), NoConnection),
    (_error(504, "TIMEOUT"), JobTimeout),
    (httpx.Response(404, json={"detail": "Not Found"}), NotFound),
    (httpx.Response(401, json={"detail": "Not authenticated"}), AuthenticationError),
    (httpx.Response(500, text="Internal Server Error"), NoConnection),
    (httpx.Response(418, json={"something": "else"}), NoConnection),
    (httpx.Response(404, html="<html><h1>Not Found</h1></html>"), NoConnection),
    (httpx.Response(502), NoConnection),
])
def test_each_error_response_raises_its_exception(response: httpx.Response, expected: type[FedpeError]) -> None:
    # Prepare
    session = _session(lambda request: response)

    # Execute
    with pytest.raises(FedpeError) as info:
        session.get_job("e1")

    # Assert
    assert type(info.value) is expected


def test_error_message_and_field_come_from_the_body() -> None:
    session = _session(lambda request: _error(422, "VALIDATION_ERROR", "rounds must be positive", field="rounds"))

    with pytest.raises(InvalidArgument) as info:
        session.submit_job("fed-train", params={"rounds": 0})

    assert info.value.message == "rounds must be positive"
    assert info.value.field == "rounds"


def test_fastapi_validation_detail_reads_as_invalid_argument_with_field() -> None:
    body = {"detail": [{"loc": ["query", "limit"], "msg": "Input should be greater than 0", "type": "greater_than"}]}
    session = _session(lambda request: httpx.Response(422, json=body))

    with pytest.raises(InvalidArgument) as info:
        session.list_jobs()

    assert info.value.field == "limit"
    assert "greater than 0" in info.value.message


@pytest.mark.parametrize("error", [
    httpx.ConnectError("Connection refused"),
    httpx.ReadTimeout("timed out"),
    httpx.ConnectTimeout("timed out"),
    httpx.RemoteProtocolError("peer closed connection"),
    httpx.ReadError("connection reset"),
])
def test_transport_errors_become_no_connection(error: Exception) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise error

    with pytest.raises(NoConnection) as info:
        _session(handler).hosts()

    assert URL in info.value.message
    assert info.value.__cause__ is error


def test_a_real_refused_connection_is_no_connection() -> None:
    # Port 9 (discard) on localhost is closed on any sane test machine.
    with Session("http://127.0.0.1:9/api/v1", "key", timeout=2) as session, pytest.raises(NoConnection):
        session.hosts()


def test_a_200_that_is_not_json_says_the_url_is_not_the_fedpe_api() -> None:
    session = _session(lambda request: httpx.Response(200, html="<html>proxy login</html>"))

    with pytest.raises(NoConnection, match="non-fedpe body"):
        session.hosts()


def test_an_html_error_page_is_one_line_naming_the_url_and_status() -> None:
    page = "<!doctype html>\n<html>\n<head><title>404 Not Found</title></head>\n<body>MLflow</body>\n</html>\n"
    session = _session(lambda request: httpx.Response(404, html=page))

    with pytest.raises(NoConnection) as info:
        session.list_files("e1")

    assert info.value.message == (f"{URL}/data/list_files answered 404 Not Found with a non-fedpe body (text/html): "
                                  "is FEDPE_API_URL the fedpe API?")
    assert info.value.details["status_code"] == 404


def test_a_plain_text_error_is_quoted_on_the_same_line() -> None:
    session = _session(lambda request: httpx.Response(500, text="Internal Server Error\n"))

    with pytest.raises(NoConnection) as info:
        session.hosts()

    assert "(text/plain: 'Internal Server Error')" in info.value.message and "\n" not in info.value.message


def test_a_200_of_the_wrong_shape_is_a_fedpe_error_naming_the_request() -> None:
    session = _session(lambda request: httpx.Response(200, json={"hosts": "hospital-a"}))

    with pytest.raises(FedpeError, match="/api/v1/hosts"):
        session.hosts()


@pytest.mark.parametrize("url", ["", "fedpe.test", "ftp://fedpe.test/api/v1", "http://"])
def test_a_bad_url_is_invalid_argument(url: str) -> None:
    with pytest.raises(InvalidArgument) as info:
        Session(url, "key")

    assert info.value.field == "url"
