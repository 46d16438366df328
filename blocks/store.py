"""The output store: one fsspec URL under which every execution keeps its per-host outputs.

Layout: ``{url}/{execution_id}/{host}/{file}``. `StoreSpec` is the plain, picklable value that
travels to host roles; `OutputStore` is the Prefect block that saves it (credentials as secrets).
"""

from __future__ import annotations

import posixpath
import uuid
from typing import Any, BinaryIO, Iterator

import fsspec
from prefect.blocks.core import Block
from pydantic import BaseModel, Field, SecretStr


#: Name prefix of a local write in progress (renamed over its target when complete).
TMP_PREFIX = ".fedpe-tmp-"


def _is_local(fs: fsspec.AbstractFileSystem) -> bool:
    protocols = fs.protocol if isinstance(fs.protocol, tuple) else (fs.protocol,)
    return bool({"file", "local"} & set(protocols))


def _is_temporary(path: str) -> bool:
    return posixpath.basename(path).startswith(TMP_PREFIX)


def parts_in_store(ref: str, store_url: str) -> list[str]:
    """The path components of `ref` inside the store at `store_url`.

    `ref` is either a full URL under the store or a path relative to it
    (``EXECUTION_ID/HOST/checkpoints/round-0003.npz``). Raises ValueError for anything else:
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


class OutputStore(Block):
    """Where executions write their outputs: any fsspec URL (`file://`, `s3://`, ...)."""

    _block_type_name = "fedpe Output Store"
    _block_type_slug = "fedpe-output-store"
    _description = "fsspec URL and storage options of the store that holds every execution's outputs."

    url: str = Field(description="fsspec URL of the store root, e.g. file:///data/fedpe/store or s3://bucket/fedpe.")
    storage_options: dict[str, Any] = Field(default_factory=dict, description="fsspec storage options (no secrets).")
    key: SecretStr | None = Field(default=None, description="Access key id (S3), kept as a secret.")
    secret: SecretStr | None = Field(default=None, description="Secret access key (S3), kept as a secret.")

    def spec(self) -> StoreSpec:
        """The resolved store, secrets included, for the roles that write to it."""
        options = dict(self.storage_options)
        if self.key is not None:
            options["key"] = self.key.get_secret_value()
        if self.secret is not None:
            options["secret"] = self.secret.get_secret_value()
        return StoreSpec(url=self.url, storage_options=options)
