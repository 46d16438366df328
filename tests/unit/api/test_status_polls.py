"""FEM's status poll: answered by the middleware (fedpe/api/polls.py) when the caller is known
without blocking, by the route otherwise, the same bytes either way; errors stay the route's."""

import asyncio
from types import SimpleNamespace

from fastapi.testclient import TestClient

from fedpe.api.app import create_app
from fedpe.api.polls import StatusPolls
from fedpe.auth.users import User
from fedpe.errors import AuthenticationError, AuthorizationError, NotFound

KNOWN, NEW = "fpk_aaaaaaaaaaaa_known", "fpk_bbbbbbbbbbbb_new"
ALICE = User(name="alice", is_admin=False, created_at="2026-01-01", revoked_at=None, has_password=False,
             tokens_valid_after=None)


class Users:
    """KNOWN was verified lately (answered on the loop); NEW needs its argon2 check first."""

    def __init__(self) -> None:
        self.full_checks = 0

    def check_key(self, key: str, *, known_only: bool = False):
        if key not in (KNOWN, NEW):
            raise AuthenticationError("invalid or revoked API key")
        if known_only and key == NEW:
            return None
        self.full_checks += not known_only
        return ALICE


class Executions:
    def __init__(self) -> None:
        self.calls = 0

    async def status_json(self, execution_id: str, user: User) -> bytes:
        self.calls += 1
        if execution_id == "someone-elses":
            raise AuthorizationError(f"execution {execution_id} belongs to another user", field="execution_id")
        if execution_id != "e1":
            raise NotFound(f"no execution {execution_id}", field="execution_id")
        return b'[{"node":"h1","task":"flcore-server","status":"running"}]'


def _client() -> tuple[TestClient, SimpleNamespace]:
    app = create_app(dashboard=False)
    state = SimpleNamespace(users=Users(), executions=Executions())
    app.state.fedpe = state  # no lifespan: no Prefect or Dask behind it
    return TestClient(app), state


def _get(client: TestClient, key: str, path: str = "/api/v1/executions/status/e1"):
    return client.get(path, headers={"Authorization": f"Bearer {key}"})


def test_a_known_caller_and_a_new_one_get_the_same_answer():
    client, state = _client()

    fast, routed = _get(client, KNOWN), _get(client, NEW)

    assert fast.status_code == routed.status_code == 200
    assert fast.content == routed.content == b'[{"node":"h1","task":"flcore-server","status":"running"}]'
    assert fast.headers["content-type"] == routed.headers["content-type"] == "application/json"
    assert fast.headers["content-length"] == routed.headers["content-length"]
    assert state.users.full_checks == 1  # only the new key went the route's way, to its argon2 check


def test_the_middleware_answers_a_known_caller_itself_and_leaves_the_rest():
    state = SimpleNamespace(users=Users(), executions=Executions())

    def answer(key: str, path: str = "/api/v1/executions/status/e1") -> bytes | None:
        scope = {"type": "http", "method": "GET", "path": path, "query_string": b"",
                 "headers": [(b"authorization", f"Bearer {key}".encode())],
                 "app": SimpleNamespace(state=SimpleNamespace(fedpe=state))}
        return asyncio.run(StatusPolls(app=None)._answer(scope))

    assert answer(KNOWN) == b'[{"node":"h1","task":"flcore-server","status":"running"}]'
    assert answer(NEW) is None and answer(KNOWN, "/api/v1/executions/status/e2") is None
    assert answer(KNOWN, "/api/v1/executions/e1") is None and answer(KNOWN, "/api/v1/executions/status/e1/x") is None


def test_errors_are_the_routes_own():
    client, state = _client()

    unknown = _get(client, KNOWN, "/api/v1/executions/status/e2")
    foreign = _get(client, KNOWN, "/api/v1/executions/status/someone-elses")
    bad_key = _get(client, "fpk_cccccccccccc_bad")
    no_key = client.get("/api/v1/executions/status/e1")

    assert unknown.status_code == 404 and unknown.json()["error"]["details"]["field"] == "execution_id"
    assert foreign.status_code == 403 and foreign.json()["error"]["code"] == "FORBIDDEN"
    assert bad_key.status_code == 401 and bad_key.headers["www-authenticate"] == "Bearer"
    assert no_key.status_code == 401
    assert state.executions.calls == 4  # unknown and foreign: asked by the middleware, then by the route


def test_other_shapes_of_the_path_go_to_the_routes():
    client, state = _client()

    doubled = _get(client, KNOWN, "/api/v1//executions/status/e1/")  # normalised first, then answered
    with_query = _get(client, KNOWN, "/api/v1/executions/status/e1?x=1")
    posted = client.post("/api/v1/executions/status/e1", headers={"Authorization": f"Bearer {KNOWN}"})

    assert doubled.status_code == with_query.status_code == 200 and doubled.content == with_query.content
    assert posted.status_code == 405
