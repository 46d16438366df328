"""download_job_result: streamed to disk, zip archives unpacked into destination/{host}/, nothing outside."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import httpx
import pytest

from fedpe.errors import FedpeError, NotFound
from fedpe.sdk import Session

URL = "http://fedpe.test/api/v1"
FILES = {"hospital-a": {"files": ["health.json", "plots/loss.png"]}, "hospital-b": {"files": ["health.json"]},
         "hospital-c": {"files": []}}


def _zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for name, content in members.items():
            zf.writestr(name, content)
    return buffer.getvalue()


def _session(archives: dict[str, bytes] | None = None) -> tuple[Session, list[httpx.Request]]:
    requests: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        if request.url.path.endswith("/data/list_files"):
            return httpx.Response(200, json=FILES)
        node, file = request.url.params["node"], request.url.params.get("file")
        if file:
            return httpx.Response(200, stream=httpx.ByteStream(f"{node}:{file}".encode()))
        body = (archives or {}).get(node) or _zip({"health.json": f'{{"host": "{node}"}}'.encode(),
                                                    "plots/loss.png": b"png"})
        return httpx.Response(200, headers={"content-type": "application/zip"}, stream=httpx.ByteStream(body))

    return Session(URL, "key", transport=httpx.MockTransport(handler)), requests


def test_every_host_with_outputs_is_unpacked_into_its_folder(tmp_path: Path) -> None:
    # Prepare
    session, requests = _session()

    # Execute
    path = session.download_job_result("e1", tmp_path / "out")

    # Assert
    assert path == tmp_path / "out"
    assert (path / "hospital-a" / "health.json").read_text() == '{"host": "hospital-a"}'
    assert (path / "hospital-b" / "plots" / "loss.png").read_bytes() == b"png"
    assert not (path / "hospital-c").exists()
    assert sorted(p.name for p in path.iterdir()) == ["hospital-a", "hospital-b"]  # no archive left behind
    assert [r.url.params.get("node") for r in requests[1:]] == ["hospital-a", "hospital-b"]


def test_one_host_only_skips_the_listing(tmp_path: Path) -> None:
    session, requests = _session()

    session.download_job_result("e1", tmp_path, host="hospital-b")

    assert len(requests) == 1
    assert (tmp_path / "hospital-b" / "health.json").exists() and not (tmp_path / "hospital-a").exists()


def test_one_file_is_found_on_every_host_that_has_it(tmp_path: Path) -> None:
    session, _ = _session()

    path = session.download_job_result("e1", tmp_path, file="health.json")

    assert path == tmp_path
    assert (tmp_path / "hospital-a" / "health.json").read_text() == "hospital-a:health.json"
    assert (tmp_path / "hospital-b" / "health.json").read_text() == "hospital-b:health.json"


def test_one_file_of_one_host_returns_its_path(tmp_path: Path) -> None:
    session, requests = _session()

    path = session.download_job_result("e1", tmp_path, host="hospital-a", file="plots/loss.png")

    assert path == tmp_path / "hospital-a" / "plots" / "loss.png"
    assert path.read_text() == "hospital-a:plots/loss.png"
    assert requests[0].url.params["file"] == "plots/loss.png"


def test_a_file_no_host_has_is_not_found(tmp_path: Path) -> None:
    session, _ = _session()

    with pytest.raises(NotFound):
        session.download_job_result("e1", tmp_path, file="model.npz")


@pytest.mark.parametrize("file", ["../escape.txt", "/etc/passwd", "a/../../b"])
def test_a_file_path_leaving_the_destination_is_refused(tmp_path: Path, file: str) -> None:
    session, _ = _session()

    with pytest.raises(FedpeError):
        session.download_job_result("e1", tmp_path / "out", host="hospital-a", file=file)
    assert not (tmp_path / "escape.txt").exists()


def test_an_archive_with_a_member_leaving_the_folder_is_refused(tmp_path: Path) -> None:
    session, _ = _session({"hospital-a": _zip({"../../evil.txt": b"x"})})

    with pytest.raises(FedpeError, match="cannot be unpacked"):
        session.download_job_result("e1", tmp_path / "out", host="hospital-a")
    assert not list(tmp_path.rglob("evil.txt"))
    assert not list(tmp_path.rglob("*.download"))


def test_a_broken_download_leaves_no_partial_file(tmp_path: Path) -> None:
    class Broken(httpx.SyncByteStream):
        def __iter__(self):
            yield b"half"
            raise httpx.ReadError("connection reset")

    session = Session(URL, "key", transport=httpx.MockTransport(lambda r: httpx.Response(200, stream=Broken())))

    with pytest.raises(FedpeError):
        session.download_job_result("e1", tmp_path, host="hospital-a", file="health.json")
    assert not any(p.is_file() for p in tmp_path.rglob("*"))
