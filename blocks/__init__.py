"""Prefect Block types that say where the federation's parts are.

Flows load them by name (`default`) when a run starts, so one saved configuration serves the
Prefect UI, schedules, `run_deployment` callers and the fedpe API alike.

The block types are imported on first use (PEP 562): they import Prefect, and importing a
submodule that does not (`blocks.security`) must not pay for it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from blocks.federation import Federation
    from blocks.store import CREDENTIALS_BLOCK_NAME, OutputStore, StoreSpec, credentials_secret, split_credentials
    from blocks.tracking import Tracking

#: Name -> the submodule that defines it.
_LAZY = {
    "Federation": "blocks.federation", "OutputStore": "blocks.store", "StoreSpec": "blocks.store",
    "CREDENTIALS_BLOCK_NAME": "blocks.store", "credentials_secret": "blocks.store",
    "split_credentials": "blocks.store", "Tracking": "blocks.tracking",
}


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'blocks' has no attribute {name!r}")

__all__ = [*_LAZY, "RESULTS_BLOCK", "RESULTS_BLOCK_NAME", "register_all", "results_block_slug"]

import os

RESULTS_BLOCK_NAME = "fedpe-results"


def results_block_slug(store_url: str) -> str:
    """Slug of the block holding persisted flow results inside the store.

    Built-in block types (local or remote file system), so any `run_deployment` caller can read
    a result without importing fedpe's blocks. A remote one holds no credentials (blocks/store.py).
    """
    kind = "local-file-system" if store_url.startswith("file://") or "://" not in store_url else "remote-file-system"
    return f"{kind}/{RESULTS_BLOCK_NAME}"


#: Read when a flow module is imported: the runner's flow runs inherit FEDPE_STORE_URL.
RESULTS_BLOCK = results_block_slug(os.environ.get("FEDPE_STORE_URL", "file://"))


def register_all() -> None:
    """Register fedpe's block types with the Prefect API named by PREFECT_API_URL."""
    from blocks.federation import Federation
    from blocks.store import OutputStore
    from blocks.tracking import Tracking

    for block_type in (Federation, OutputStore, Tracking):
        block_type.register_type_and_schema()
