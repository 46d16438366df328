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
    from blocks.store import OutputStore, credentials_secret

    block = OutputStore(url="s3://fedpe/outputs", storage_options={"client_kwargs": {"endpoint_url": s3_endpoint}},
                        credentials=credentials_secret({"key": "test", "secret": "test"}))
    store = block.spec()

    url = store.write_bytes(b"weights", "exec-1", "hospital-a", "model.npz")
    store.write_bytes(b"{}", "exec-1", "hospital-a", "sub", "metrics.json")

    assert url == "s3://fedpe/outputs/exec-1/hospital-a/model.npz"
    assert store.list_files("exec-1", "hospital-a") == ["model.npz", "sub/metrics.json"]
    assert store.read_bytes("exec-1", "hospital-a", "model.npz") == b"weights"
    store.remove("exec-1")
    assert store.list_files("exec-1", "hospital-a") == []


def test_results_block_with_plain_settings_reads_and_writes_with_the_lent_credentials(s3_endpoint, monkeypatch):
    # Prepare: Prefect's result storage as deployments/configure.py saves it (no credentials),
    # and the credentials only where a flow run puts them: fsspec's config of this process
    import fsspec
    from prefect.filesystems import RemoteFileSystem

    from blocks.store import OutputStore, credentials_secret, split_credentials

    monkeypatch.setattr(fsspec.config, "conf", {})
    options = {"client_kwargs": {"endpoint_url": s3_endpoint}, "key": "test", "secret": "test"}
    plain, credentials = split_credentials(options)
    results = RemoteFileSystem(basepath="s3://fedpe/outputs/_results", settings=plain)

    # Execute
    OutputStore(url="s3://fedpe/outputs", storage_options=plain,
                credentials=credentials_secret(credentials)).configure_fsspec()
    results.write_path("run-1", b"result")

    # Assert
    assert results.settings == {"client_kwargs": {"endpoint_url": s3_endpoint}}
    assert RemoteFileSystem(basepath="s3://fedpe/outputs/_results", settings=plain).read_path("run-1") == b"result"


def test_store_refuses_paths_that_climb_out():
    from blocks.store import StoreSpec

    with pytest.raises(ValueError, match="invalid path component"):
        StoreSpec(url="file:///tmp/x").path("exec", "..", "etc")
