"""The output store: one fsspec URL under which every execution keeps its per-host outputs.

Layout: `{url}/{execution_id}/{host}/{file}`. `StoreSpec` is the resolved value the
coordinator's side opens; `OutputStore` is the Prefect block that saves it.

The store's credentials (s3fs's `key`, `secret`, `token`, and their like) never sit in a
block's plain fields, where anyone who can read blocks reads them (Prefect shows a plain dict
field as it is). They live in one Prefect `Secret` block, `fedpe-store-credentials`, whose value
(a JSON object of storage options) Prefect hides; `OutputStore` references it, and so does
nothing else. Prefect's result storage, the built-in `RemoteFileSystem` block `fedpe-results`
(built-in so that any caller can read a result without fedpe's blocks), holds only the plain
options: a flow run gives fsspec the credentials from the Secret block
(`OutputStore.configure_fsspec`), and a caller elsewhere brings its own.
"""

from __future__ import annotations

import json
import posixpath
import re
import uuid
from typing import Any, BinaryIO, Iterator, Mapping

import fsspec
from prefect.blocks.core import Block
from prefect.blocks.system import Secret
from pydantic import BaseModel, Field


#: Name prefix of a local write in progress (renamed over its target when complete).
TMP_PREFIX = ".fedpe-tmp-"
#: The Prefect Secret block that holds the store's credential options.
CREDENTIALS_BLOCK_NAME = "fedpe-store-credentials"
#: Storage option names that are credentials: s3fs's key, secret and token, and their like in other
#: fsspec file systems (password, account_key, client_secret, credentials, connection_string).
_CREDENTIAL_NAME = re.compile(r"key|secret|token|passw|credential|connection_string", re.I)


def _holds_credential(name: str, value: Any) -> bool:
    if _CREDENTIAL_NAME.search(name):
        return True
    return isinstance(value, Mapping) and any(_holds_credential(str(k), v) for k, v in value.items())


def split_credentials(options: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(plain options, credentials) of fsspec storage options.

    An option is a credential when its name says so, or when it is a mapping that holds one
    (s3fs's `client_kwargs` carrying an `aws_secret_access_key`): such a mapping moves whole, so
    the two parts never share a name and `{**plain, **credentials}` gives the options back, as
    fsspec's own config merges them.
    """
    plain, credentials = {}, {}
    for name, value in options.items():
        (credentials if _holds_credential(name, value) else plain)[name] = value
    return plain, credentials


def _is_local(fs: fsspec.AbstractFileSystem) -> bool:
    protocols = fs.protocol if isinstance(fs.protocol, tuple) else (fs.protocol,)
    return bool({"file", "local"} & set(protocols))


def _is_temporary(path: str) -> bool:
    return posixpath.basename(path).startswith(TMP_PREFIX)


def parts_in_store(ref: str, store_url: str) -> list[str]:
    """The path components of `ref` inside the store at `store_url`.

    `ref` is either a full URL under the store or a path relative to it
    (`EXECUTION_ID/HOST/checkpoints/round-0003.npz`). Raises ValueError for anything else:
    another scheme or bucket, a path that climbs out, empty components.
    """
    root = store_url.rstrip("/")
    if "://" in ref or ref.startswith("/"):
        candidates = [root]
        if root.startswith("file://"):
            candidates.append(root[len("file://"):])  # the same local store written as a path
        inside = next((ref[len(c) + 1:] for c in candidates if ref.startswith(c + "/")), None)
        if inside is None:
            raise ValueError(f"{ref!r} is not inside the store {store_url}")
    else:
        inside = ref
    parts = inside.split("/")
    if not parts or any(p in ("", ".", "..") or "\\" in p for p in parts):
        raise ValueError(f"{ref!r} is not a plain path inside the store")
    return parts


class StoreSpec(BaseModel):
    """An fsspec URL plus its storage options, resolved (secrets included) for one process."""

    url: str
    storage_options: dict[str, Any] = Field(default_factory=dict)

    def filesystem(self) -> tuple[fsspec.AbstractFileSystem, str]:
        """The filesystem and the root path inside it."""
        fs, root = fsspec.core.url_to_fs(self.url, **self.storage_options)
        return fs, root.rstrip("/")

    def path(self, *parts: str) -> str:
        """Path inside the filesystem of `parts` under the root; refuses parts that climb out."""
        _, root = self.filesystem()
        for part in parts:
            if not part or part in (".", "..") or "/" in part or "\\" in part:
                raise ValueError(f"invalid path component {part!r}")
        return posixpath.join(root, *parts)

    def url_of(self, *parts: str) -> str:
        """Full URL of `parts` under the store (for humans and for MLflow tags)."""
        return posixpath.join(self.url.rstrip("/"), *parts)

    def write_bytes(self, data: bytes, *parts: str) -> str:
        """Write `data` at `parts`, creating folders; returns the URL written.

        Readers poll some files (the progress file) while a role rewrites them, so a local
        write goes to a hidden sibling first and is renamed over the target; an object
        store's PUT is atomic already.
        """
        fs, _ = self.filesystem()
        path = self.path(*parts)
        fs.makedirs(posixpath.dirname(path), exist_ok=True)
        if not _is_local(fs):
            with fs.open(path, "wb") as fh:
                fh.write(data)
            return self.url_of(*parts)
        tmp = posixpath.join(posixpath.dirname(path), f"{TMP_PREFIX}{uuid.uuid4().hex}")
        try:
            with fs.open(tmp, "wb") as fh:
                fh.write(data)
            fs.mv(tmp, path)
        except BaseException:
            if fs.exists(tmp):
                fs.rm(tmp)
            raise
        return self.url_of(*parts)

    def read_bytes(self, *parts: str) -> bytes:
        fs, _ = self.filesystem()
        with fs.open(self.path(*parts), "rb") as fh:
            return fh.read()

    def exists(self, *parts: str) -> bool:
        fs, _ = self.filesystem()
        return fs.exists(self.path(*parts))

    def open(self, *parts: str, mode: str = "rb") -> BinaryIO:
        fs, _ = self.filesystem()
        return fs.open(self.path(*parts), mode)

    def list_files(self, *parts: str) -> list[str]:
        """Relative paths of every file below `parts` (recursive), sorted; [] when absent."""
        fs, _ = self.filesystem()
        base = self.path(*parts)
        if not fs.exists(base):
            return []
        found = fs.find(base)
        return sorted(posixpath.relpath(p, base) for p in found if not _is_temporary(p))

    def iter_files(self, *parts: str) -> Iterator[tuple[str, int]]:
        """(relative path, size) of every file below `parts`."""
        fs, _ = self.filesystem()
        base = self.path(*parts)
        if not fs.exists(base):
            return
        for path, info in sorted(fs.find(base, detail=True).items()):
            if _is_temporary(path):
                continue
            yield posixpath.relpath(path, base), int(info.get("size") or 0)

    def remove(self, *parts: str) -> None:
        fs, _ = self.filesystem()
        path = self.path(*parts)
        if fs.exists(path):
            fs.rm(path, recursive=True)


def credentials_secret(credentials: Mapping[str, Any]) -> Secret:
    """A Secret block whose value is `credentials` as one JSON string.

    A string, not a dict: Prefect hides a Secret's string value from every block read without
    secrets, but returns a dict value's entries as they are (it obfuscates the field `value`,
    and a dict is stored as `value.key`, `value.secret`, ...). `Secret.get()` parses it back.
    """
    return Secret(value=json.dumps(dict(credentials), sort_keys=True))


class OutputStore(Block):
    """Where executions write their outputs: any fsspec URL (`file://`, `s3://`, ...)."""

    _block_type_name = "fedpe Output Store"
    _block_type_slug = "fedpe-output-store"
    _description = ("fsspec URL and storage options of the store that holds every execution's outputs; "
                    f"its credentials are the Secret block {CREDENTIALS_BLOCK_NAME}.")

    url: str = Field(description="fsspec URL of the store root, e.g. file:///data/fedpe/store or s3://bucket/fedpe.")
    storage_options: dict[str, Any] = Field(
        default_factory=dict, description="fsspec storage options that are not credentials (endpoint, region, ...).")
    credentials: Secret | None = Field(
        default=None,
        description=f"The Secret block ({CREDENTIALS_BLOCK_NAME}) whose value is a JSON object of the "
                    "credential options (S3: key, secret, token), added to storage_options when the store is opened.")

    def credential_options(self) -> dict[str, Any]:
        """The credential options from the Secret block ({} without one)."""
        if self.credentials is None:
            return {}
        value = self.credentials.get()
        if not isinstance(value, dict):
            raise ValueError(f"the Secret block {CREDENTIALS_BLOCK_NAME} must hold a JSON object of storage options")
        return value

    def spec(self) -> StoreSpec:
        """The resolved store, credentials included, for the coordinator's side that writes to it."""
        return StoreSpec(url=self.url, storage_options={**self.storage_options, **self.credential_options()})

    def configure_fsspec(self) -> None:
        """Give this process's fsspec the store's credentials for the store's protocol.

        Prefect persists flow results through `fedpe-results`, a built-in RemoteFileSystem that
        holds only the plain options; fsspec adds what its config holds for the protocol when it
        opens a file system (explicit options win, and the two never share a name).
        """
        credentials = self.credential_options()
        if not credentials:
            return
        protocol = fsspec.core.split_protocol(self.url)[0] or "file"
        fsspec.config.conf.setdefault(protocol, {}).update(credentials)
