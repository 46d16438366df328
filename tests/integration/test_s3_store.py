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


def test_rounds_are_one_object_each_and_a_reader_sees_each_new_one_on_s3(s3_endpoint):
    # Prepare: a reader that has listed the rounds once (s3fs keeps listings)
    from blocks.store import StoreSpec
    from tasks.rounds import read_rounds, write_round

    store = StoreSpec(url="s3://fedpe/outputs", storage_options={
        "client_kwargs": {"endpoint_url": s3_endpoint}, "key": "test", "secret": "test"})
    assert read_rounds(store, "exec-2") == []
    write_round(store, "exec-2", {"round": 1, "loss": 0.5})
    cache: dict[int, dict] = {}
    assert [e["round"] for e in read_rounds(store, "exec-2", cache=cache)] == [1]

    # Execute: the next round is written by another process (the coordinator) while the reader
    # holds its listing
    import boto3

    boto3.client("s3", endpoint_url=s3_endpoint, aws_access_key_id="test", aws_secret_access_key="test",
                 region_name="us-east-1").put_object(Bucket="fedpe", Key="outputs/exec-2/_rounds/00002.json",
                                                     Body=b'{"round": 2, "loss": 0.4}')

    # Assert
    assert [e["round"] for e in read_rounds(store, "exec-2", cache=cache)] == [1, 2]
    assert [e["loss"] for e in read_rounds(store, "exec-2", after=1)] == [0.4]
    assert store.list_files("exec-2", "_rounds") == ["00001.json", "00002.json"]


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
