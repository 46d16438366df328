"""The public surface: `import fedpe` stays light, names resolve, every public method is documented."""

from __future__ import annotations

import inspect
import json
import subprocess
import sys

import pytest

import fedpe
import fedpe.sdk
from fedpe.sdk import AsyncSession, Session, SessionSpec


def test_import_fedpe_imports_no_heavy_library() -> None:
    code = ("import sys, json, fedpe; before = sorted(m for m in ('httpx', 'prefect', 'dask', 'distributed', 'mlflow') "
            "if m in sys.modules); fedpe.Session; "
            "after = sorted(m for m in ('prefect', 'dask', 'distributed', 'mlflow') if m in sys.modules); "
            "print(json.dumps([before, after]))")

    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout

    assert json.loads(out) == [[], []]


def test_fedpe_reexports_the_session_and_the_errors() -> None:
    assert fedpe.Session is Session and fedpe.AsyncSession is AsyncSession
    assert fedpe.JobNotFound is fedpe.sdk.JobNotFound
    assert set(fedpe.__all__) <= set(dir(fedpe))
    with pytest.raises(AttributeError):
        fedpe.NoSuchThing  # noqa: B018


def test_every_name_in_all_exists() -> None:
    for name in fedpe.sdk.__all__:
        assert getattr(fedpe.sdk, name) is not None
    for name in fedpe.__all__:
        assert getattr(fedpe, name) is not None


def test_session_implements_the_whole_spec() -> None:
    assert not Session.__abstractmethods__
    assert issubclass(Session, SessionSpec)


@pytest.mark.parametrize("cls", [SessionSpec, Session, AsyncSession])
def test_every_public_method_has_a_docstring(cls) -> None:
    undocumented = [name for name, member in inspect.getmembers(cls, callable)
                    if not name.startswith("_") and not (member.__doc__ or "").strip()]
    assert undocumented == []


def test_async_session_has_every_verb_of_the_spec() -> None:
    verbs = {name for name in SessionSpec.__abstractmethods__} - {"close"}
    assert verbs <= {name for name in dir(AsyncSession) if not name.startswith("_")}
    for name in verbs - {"stream_events"}:
        assert inspect.iscoroutinefunction(getattr(AsyncSession, name)), name
