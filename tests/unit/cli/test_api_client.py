"""Where the CLI finds the API and its key: environment, `fedpe login`'s file, the local stack."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from fedpe.cli import api_client
from fedpe.errors import NoConnection

STACK_API = "http://127.0.0.1:8123/api/v1"


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("FEDPE_HOME", str(tmp_path))
    monkeypatch.delenv("FEDPE_API_URL", raising=False)
    monkeypatch.delenv("FEDPE_API_KEY", raising=False)
    return tmp_path


def _stack(home: Path) -> None:
    (home / "stack.json").write_text(json.dumps({"urls": {"api": STACK_API, "mlflow_ui": "http://x"}}))


def test_nothing_configured_is_no_connection_with_a_hint(home: Path) -> None:
    with pytest.raises(NoConnection, match="fedpe login"):
        api_client.resolve()


def test_the_local_stack_is_the_last_resort(home: Path) -> None:
    _stack(home)

    assert api_client.resolve() == api_client.Target(url=STACK_API, api_key=None, source="local stack")


def test_saved_credentials_beat_the_stack(home: Path) -> None:
    _stack(home)
    api_client.save_credentials("https://fed.example/api/v1", "k1", "api_key")

    assert api_client.resolve() == api_client.Target("https://fed.example/api/v1", "k1", "fedpe login")


def test_the_environment_beats_everything(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _stack(home)
    api_client.save_credentials("https://fed.example/api/v1", "k1", "api_key")
    monkeypatch.setenv("FEDPE_API_URL", "http://env.example/api/v1")
    monkeypatch.setenv("FEDPE_API_KEY", "k-env")

    assert api_client.resolve() == api_client.Target("http://env.example/api/v1", "k-env", "FEDPE_API_URL")


def test_a_saved_key_is_used_only_for_the_url_it_was_saved_for(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    api_client.save_credentials("http://fed.example:8000/api/v1", "k1", "api_key")

    monkeypatch.setenv("FEDPE_API_URL", "http://fed.example:8000/")  # the same API, spelt differently
    assert api_client.resolve().api_key == "k1"
    monkeypatch.setenv("FEDPE_API_URL", "http://other.example/api/v1")
    assert api_client.resolve().api_key is None


def test_credentials_are_private_to_their_owner(home: Path) -> None:
    path = api_client.save_credentials("http://fed.example/api/v1", "secret", "token", username="alice")
    api_client.save_credentials("http://fed.example/api/v1", "secret2", "token", username="alice")

    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    saved = json.loads(path.read_text())
    assert (saved["api_key"], saved["kind"], saved["username"]) == ("secret2", "token", "alice")
    assert [p.name for p in home.iterdir()] == ["credentials.json"]


def test_open_session_goes_through_the_factory(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _stack(home)
    monkeypatch.setenv("FEDPE_API_KEY", "k")
    made = []
    monkeypatch.setattr(api_client, "session_factory", lambda url, api_key=None, **kw: made.append((url, api_key)))

    api_client.open_session()

    assert made == [(STACK_API, "k")]
