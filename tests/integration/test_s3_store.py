"""The output store over S3 (s3fs) against moto's S3 server on loopback."""

import socket

import pytest

pytestmark = pytest.mark.integration


@pytest.fixture()
def s3_endpoint():
    import boto3
    from moto.server import ThreadedMotoServer

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    url = f"http://127.0.0.1:{port}"
    boto3.client("s3", endpoint_url=url, aws_access_key_id="test", aws_secret_access_key="test",
                 region_name="us-east-1").create_bucket(Bucket="fedpe")
    try:
        yield url
    finally:
        server.stop()


def test_store_writes_lists_reads_and_removes_on_s3(s3_endpoint):
    from blocks.store import OutputStore

    block = OutputStore(url="s3://fedpe/outputs", storage_options={"client_kwargs": {"endpoint_url": s3_endpoint}},
                        key="test", secret="test")
    store = block.spec()

    url = store.write_bytes(b"weights", "exec-1", "hospital-a", "model.npz")
    store.write_bytes(b"{}", "exec-1", "hospital-a", "sub", "metrics.json")

    assert url == "s3://fedpe/outputs/exec-1/hospital-a/model.npz"
    assert store.list_files("exec-1", "hospital-a") == ["model.npz", "sub/metrics.json"]
    assert store.read_bytes("exec-1", "hospital-a", "model.npz") == b"weights"
    store.remove("exec-1")
    assert store.list_files("exec-1", "hospital-a") == []


def test_store_refuses_paths_that_climb_out():
    from blocks.store import StoreSpec

    with pytest.raises(ValueError, match="invalid path component"):
        StoreSpec(url="file:///tmp/x").path("exec", "..", "etc")
