"""No secret in a Prefect block's plain fields; the store's credentials are a Secret block.

A federation of its own whose store is S3 (moto's server on loopback): its runner saves the
blocks as every `fedpe up` does, from store options that carry a key, a secret and a token.
Every block document is read back from the real Prefect server, through Prefect's client and
through the raw API, and no known secret of the federation (the store's credentials, the
services' secrets of fedpe/stack/secrets.py, the coordinator's TLS key) may be in a plain
field. An execution on that store then writes its outputs and its Prefect result there, which
proves the flow run found the credentials in the Secret block: nothing else gives them to it.
"""

from __future__ import annotations

import json
import secrets as random

import pytest

from federation_helpers import free_port, moto_s3

pytestmark = pytest.mark.integration

#: What Prefect shows for a secret field read without secrets.
HIDDEN = "********"


@pytest.fixture(scope="module")
def s3_endpoint():
    with moto_s3() as url:
        yield url


@pytest.fixture(scope="module")
def credentials():
    """S3 credentials no other text could contain (moto takes any)."""
    return {"key": f"AKIA{random.token_hex(8).upper()}", "secret": random.token_urlsafe(30),
            "token": random.token_urlsafe(40)}


@pytest.fixture(scope="module")
def s3_stack(tmp_path_factory, s3_endpoint, credentials):
    """A one-host federation whose store is s3://fedpe/store, with its own FEDPE_HOME and ports."""
    from fedpe.stack import launcher
    from fedpe.stack.config import StackConfig

    home = tmp_path_factory.mktemp("s3-home")
    config = StackConfig(
        home=home, prefect_port=free_port(), scheduler_port=free_port(), dashboard_port=free_port(),
        mlflow_port=free_port(), api_port=free_port(), hosts=1, runner_limit=2, serve_api=False,
        store_url="s3://fedpe/store", store_options={"client_kwargs": {"endpoint_url": s3_endpoint}, **credentials},
    )
    running = launcher.up(config)
    try:
        yield running
    finally:
        launcher.down(home)


@pytest.fixture()
def s3_prefect(s3_stack):
    """This test's Prefect calls go to the S3 federation's server, with its auth string."""
    from prefect.settings import PREFECT_API_AUTH_STRING, PREFECT_API_URL, temporary_settings

    from fedpe.stack.secrets import load_secrets

    auth = load_secrets(s3_stack.config.home).prefect_auth_string
    with temporary_settings(updates={PREFECT_API_URL: s3_stack.config.prefect_api_url, PREFECT_API_AUTH_STRING: auth}):
        yield


def known_secrets(home, credentials: dict) -> dict[str, str]:
    """Every secret of the federation at `home` by a name for the failure message."""
    from fedpe.stack.secrets import load_secrets
    from fedpe.stack.tls import tls_files

    services = load_secrets(home)
    found = {f"store {name}": value for name, value in credentials.items()}
    found.update({
        "Prefect auth string": services.prefect_auth_string,
        "Prefect auth password": services.prefect_auth_string.split(":", 1)[1],
        "MLflow admin password": services.mlflow_admin_password,
        "MLflow service password": services.mlflow_service_password,
        "MLflow Flask secret": services.mlflow_flask_secret,
    })
    for name, path in (("coordinator key", tls_files(home).coordinator.key), ("CA key", tls_files(home).ca_key)):
        body = [line for line in path.read_text().splitlines() if line and not line.startswith("-----")]
        found[name] = body[len(body) // 2]  # one line of the key's base64 body
    return found


def _raw_block_documents(include_secrets: bool) -> list[dict]:
    """Every block document, anonymous ones included, as the REST API answers (a filter of `{}`)."""
    from prefect import get_client

    documents, offset = [], 0
    with get_client(sync_client=True) as client:
        while True:
            page = client.request("POST", "/block_documents/filter", json={
                "block_documents": {}, "include_secrets": include_secrets, "limit": 200, "offset": offset,
            }).json()
            documents += page
            if len(page) < 200:
                return documents
            offset += 200


def _without_secret_fields(document: dict) -> dict:
    """The document's data with every field its schema marks secret removed: its plain fields."""
    data = json.loads(json.dumps(document["data"]))
    for path in document["block_schema"]["fields"].get("secret_fields", []):
        *parents, last = path.split(".")
        node = data
        for part in parents:
            node = node.get(part) if isinstance(node, dict) else None
        if isinstance(node, dict):
            node.pop(last, None)
    return data


def _leaks(text: str, secrets: dict[str, str]) -> list[str]:
    return [name for name, value in secrets.items() if value in text]


def test_no_block_document_holds_a_secret_in_a_plain_field(s3_stack, s3_prefect, credentials):
    # Prepare
    from prefect import get_client

    secrets = known_secrets(s3_stack.config.home, credentials)

    # Execute: read every block document back, as the UI and any API caller can
    with get_client(sync_client=True) as client:
        through_client = client.read_block_documents(include_secrets=False, limit=200, offset=0)
    raw = _raw_block_documents(include_secrets=False)
    revealed = _raw_block_documents(include_secrets=True)

    # Assert: the federation's blocks are all there, and no secret is readable in any of them
    names = {(d["block_type"]["slug"], d["name"]) for d in raw}
    assert {("fedpe-output-store", "default"), ("remote-file-system", "fedpe-results"),
            ("secret", "fedpe-store-credentials"), ("fedpe-federation", "default"),
            ("fedpe-tracking", "default")} <= names
    assert {(d.block_type.slug, d.name) for d in through_client} == {n for n in names if n[1] is not None}
    for document in through_client:
        dumped = document.model_dump_json()
        assert not _leaks(dumped, secrets), f"{document.name}: {_leaks(dumped, secrets)} readable"
    for document in raw:
        assert not _leaks(json.dumps(document), secrets), f"{document['name']}: {_leaks(json.dumps(document), secrets)}"
    for document in revealed:  # even read with secrets, only the fields marked secret may hold them
        plain = json.dumps(_without_secret_fields(document))
        assert not _leaks(plain, secrets), f"{document['name']}: {_leaks(plain, secrets)} in a plain field"
    # ... and the search would have found them: the Secret block does hold the credentials
    held = next(d for d in revealed if d["name"] == "fedpe-store-credentials")
    assert json.loads(held["data"]["value"]) == credentials


def test_the_blocks_show_where_the_store_is_and_which_secret_holds_its_credentials(s3_stack, s3_prefect, s3_endpoint):
    # Prepare
    from prefect import get_client

    # Execute
    with get_client(sync_client=True) as client:
        documents = {(d.block_type.slug, d.name): d
                     for d in client.read_block_documents(include_secrets=False, limit=200, offset=0)}

    # Assert: the UI shows the store's URL, endpoint and Secret block by name, never the value
    results = documents[("remote-file-system", "fedpe-results")]
    assert results.data == {"basepath": "s3://fedpe/store/_results",
                            "settings": {"client_kwargs": {"endpoint_url": s3_endpoint}}}
    store = documents[("fedpe-output-store", "default")]
    assert store.data["url"] == "s3://fedpe/store"
    assert store.data["storage_options"] == {"client_kwargs": {"endpoint_url": s3_endpoint}}
    assert store.data["credentials"] == {"value": HIDDEN}
    assert store.block_document_references["credentials"]["block_document"]["name"] == "fedpe-store-credentials"
    assert documents[("secret", "fedpe-store-credentials")].data == {"value": HIDDEN}


def test_an_execution_on_s3_writes_its_outputs_and_result_there(s3_stack, s3_prefect, s3_endpoint, monkeypatch):
    # Prepare
    import boto3
    import fsspec
    from prefect.deployments import run_deployment

    from blocks.store import OutputStore
    from tasks.conventions import RESULT_FILE

    (host,) = s3_stack.hosts

    # Execute
    flow_run = run_deployment("health-check/default", parameters={}, poll_interval=0.25, timeout=240)

    # Assert: the outputs are in the S3 store, read with the credentials of the Secret block
    assert flow_run.state.is_completed(), flow_run.state.message
    store = OutputStore.load("default").spec()
    execution = str(flow_run.id)
    assert json.loads(store.read_bytes(execution, host, "health.json"))["host"] == host
    assert json.loads(store.read_bytes(execution, RESULT_FILE))["healthy"] is True
    # ... and Prefect's result too, in the store's _results (written by the flow run through
    # `fedpe-results`, whose settings hold no credentials), read back as a caller does
    bucket = boto3.client("s3", endpoint_url=s3_endpoint, aws_access_key_id="test", aws_secret_access_key="test",
                          region_name="us-east-1")
    persisted = bucket.list_objects_v2(Bucket="fedpe", Prefix="store/_results/").get("KeyCount", 0)
    assert persisted >= 1
    monkeypatch.setattr(fsspec.config, "conf", {})
    OutputStore.load("default").configure_fsspec()
    result = flow_run.state.result()
    assert result.execution_id == execution and result.hosts == [host] and result.healthy


def test_the_runner_start_drops_plain_credentials_an_older_output_store_kept(s3_stack, s3_prefect, credentials):
    # Prepare: the `default` store as it reads after an older fedpe's OutputStore (with `key` and
    # `secret` fields of its own) is saved over by this one: Prefect merges a save into the saved
    # data, so the two fields stay, and the new schema no longer marks them secret
    from prefect import get_client
    from prefect.client.schemas.actions import BlockDocumentUpdate

    from blocks.store import OutputStore
    from deployments.configure import configure_blocks
    from fedpe.stack.tls import tls_files

    secrets = known_secrets(s3_stack.config.home, credentials)
    with get_client(sync_client=True) as client:
        saved = client.read_block_document_by_name("default", block_type_slug="fedpe-output-store")
        client.update_block_document(saved.id, BlockDocumentUpdate(
            data={"key": credentials["key"], "secret": credentials["secret"]}))
    assert _leaks(json.dumps(_raw_block_documents(include_secrets=False)), secrets) == ["store key", "store secret"]

    # Execute: what the runner does each time it starts
    config, coordinator = s3_stack.config, tls_files(s3_stack.config.home).coordinator
    configure_blocks(scheduler_address=config.scheduler_address, store_url=config.store,
                     store_options=config.store_options, tracking_uri=config.mlflow_uri,
                     tls_ca_file=str(coordinator.ca_file), tls_cert=str(coordinator.cert), tls_key=str(coordinator.key))

    # Assert
    assert _leaks(json.dumps(_raw_block_documents(include_secrets=False)), secrets) == []
    assert OutputStore.load("default").spec().storage_options == config.store_options
