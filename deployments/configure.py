"""Save the federation's blocks as `default` from the settings `fedpe up` hands the runner.

The store's credential options go to the Secret block `fedpe-store-credentials` and nowhere
else: `OutputStore` references it, `fedpe-results` (Prefect's result storage) gets only the plain
options (blocks/store.py says who reads what).
"""

from __future__ import annotations

import json
import os

from prefect.blocks.core import Block
from prefect.blocks.system import Secret
from prefect.filesystems import LocalFileSystem, RemoteFileSystem

from blocks import (
    CREDENTIALS_BLOCK_NAME, RESULTS_BLOCK_NAME, Federation, OutputStore, Tracking, credentials_secret, register_all,
    results_block_slug, split_credentials,
)


def configure_blocks(
    *, scheduler_address: str, store_url: str, store_options: dict, tracking_uri: str, overwrite: bool = True,
    tls_ca_file: str | None = None, tls_cert: str | None = None, tls_key: str | None = None,
) -> None:
    """Register the block types and save the `default` documents (disabled hosts are kept).

    The TLS files are the client certificate the flows present to the `fedpe://` scheduler; none
    for plain TCP.
    """
    register_all()
    try:
        previous = Federation.load("default")
        disabled = list(previous.disabled_hosts)
    except ValueError:
        disabled = []
    Federation(
        scheduler_address=scheduler_address, disabled_hosts=disabled,
        tls_ca_file=tls_ca_file, tls_cert=tls_cert, tls_key=tls_key,
    ).save("default", overwrite=overwrite)
    plain, credentials = split_credentials(store_options)
    secret = None
    if credentials:
        secret = credentials_secret(credentials)
        secret.save(CREDENTIALS_BLOCK_NAME, overwrite=overwrite)
    store = OutputStore(url=store_url, storage_options=plain, credentials=secret)
    if overwrite:
        _replace(store, "default")
    else:
        store.save("default")
    if secret is None and overwrite:
        _forget_credentials()
    Tracking(tracking_uri=tracking_uri).save("default", overwrite=overwrite)
    # Flow results persist inside the store so any `run_deployment` caller can read them.
    base = store_url.rstrip("/") + "/_results"
    if results_block_slug(store_url).startswith("local-file-system"):
        results = LocalFileSystem(basepath=base.removeprefix("file://"))
    else:
        results = RemoteFileSystem(basepath=base, settings=plain)
    results.save(RESULTS_BLOCK_NAME, overwrite=overwrite)


def _replace(block: Block, name: str) -> None:
    """Save `block` as `name` with exactly its own fields.

    Prefect's `save(overwrite=True)` merges the new data into the saved document's, so a field
    the block type no longer has stays, and is no longer marked secret by the new schema: an
    OutputStore saved before its credentials moved to the Secret block kept its `key` and
    `secret` as plain fields. Nothing references an OutputStore document by id.
    """
    try:
        type(block).delete(name)
    except ValueError:  # not saved yet
        pass
    block.save(name)


def _forget_credentials() -> None:
    """Delete the credentials a previous store left (once `default` no longer references them)."""
    try:
        Secret.delete(CREDENTIALS_BLOCK_NAME)
    except ValueError:  # there were none
        pass


def configure_from_env() -> None:
    configure_blocks(
        scheduler_address=os.environ["FEDPE_SCHEDULER_ADDRESS"],
        store_url=os.environ["FEDPE_STORE_URL"],
        store_options=json.loads(os.environ.get("FEDPE_STORE_OPTIONS") or "{}"),
        tracking_uri=os.environ["MLFLOW_TRACKING_URI"],
        # Set by `fedpe up --tls` (the names fedpe.stack.tls exports); unset for plain TCP.
        tls_ca_file=os.environ.get("FEDPE_TLS_CA_FILE") or None,
        tls_cert=os.environ.get("FEDPE_TLS_CERT") or None,
        tls_key=os.environ.get("FEDPE_TLS_KEY") or None,
    )
