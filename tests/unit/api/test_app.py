"""The app's shape without a federation: error format, doubled slashes, docs, unknown routes."""

from fastapi.testclient import TestClient

from fedpe.api.app import create_app


def test_unknown_routes_and_methods_answer_in_the_error_format():
    client = TestClient(create_app())  # no `with`: the lifespan (Prefect, Dask) does not start

    missing = client.get("/api/v1/nope")
    wrong_method = client.put("/api/v1/health/live")

    assert missing.status_code == 404 and missing.json()["error"]["code"] == "NOT_FOUND"
    assert wrong_method.status_code == 405 and wrong_method.json()["error"]["code"] == "METHOD_NOT_ALLOWED"


def test_doubled_slashes_route_as_single_ones():
    client = TestClient(create_app())

    assert client.get("/api/v1//health//live").json() == {"status": "ok"}


def test_openapi_lists_the_error_codes_and_both_ways_to_authorize():
    spec = TestClient(create_app()).get("/openapi.json").json()

    assert "`EXECUTION_NOT_FOUND`" in spec["info"]["description"]
    schemes = spec["components"]["securitySchemes"]
    assert schemes["OAuth2Password"]["flows"]["password"]["tokenUrl"] == "/api/v1/token"
    assert schemes["APIKey"] == {"type": "http", "scheme": "bearer", "description": schemes["APIKey"]["description"]}
    assert "application/x-www-form-urlencoded" in spec["paths"]["/api/v1/token"]["post"]["requestBody"]["content"]
    for path in ("/api/v1/tools/job/{tool_id}", "/api/v1/executions/status/{execution_id}",
                 "/api/v1/data/download_files", "/api/v1/executions/{execution_id}/stream", "/api/v1/validate",
                 "/api/v1/queue/status", "/api/v1/health/dependencies", "/api/v1/hosts/heartbeat"):
        assert path in spec["paths"], path
