"""The output store over S3 (s3fs) against moto's S3 server on loopback."""

import pytest

from federation_helpers import moto_s3

pytestmark = pytest.mark.integration


@pytest.fixture()
def s3_endpoint():
    with moto_s3() as url:
        yield url


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
