"""Save the federation's blocks as `default` from the settings `fedpe up` hands the runner."""

from __future__ import annotations

import json
import os

from prefect.filesystems import LocalFileSystem, RemoteFileSystem

from blocks import RESULTS_BLOCK_NAME, Federation, OutputStore, Tracking, register_all, results_block_slug


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
    options = dict(store_options)
    key, secret = options.pop("key", None), options.pop("secret", None)
    OutputStore(url=store_url, storage_options=options, key=key, secret=secret).save("default", overwrite=overwrite)
    Tracking(tracking_uri=tracking_uri).save("default", overwrite=overwrite)
    # Flow results persist inside the store so any `run_deployment` caller can read them.
    base = store_url.rstrip("/") + "/_results"
    if results_block_slug(store_url).startswith("local-file-system"):
        results = LocalFileSystem(basepath=base.removeprefix("file://"))
    else:
        results = RemoteFileSystem(basepath=base, settings=store_options)
    results.save(RESULTS_BLOCK_NAME, overwrite=overwrite)


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
