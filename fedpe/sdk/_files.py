"""Downloaded outputs on disk: safe paths, partial files, zip archives unpacked per host."""

from __future__ import annotations

import os
import re
import zipfile
from pathlib import Path, PurePosixPath
from urllib.parse import unquote
from typing import Any

from fedpe.errors import FedpeError, InvalidArgument


def file_name(entry: Any) -> str:
    """The path of one `list_files` entry (a string, or an object with `path` or `name`)."""
    if isinstance(entry, dict):
        return str(entry.get("path") or entry.get("name") or entry.get("file") or "")
    return str(entry)


def inside(folder: Path, relative: str) -> Path:
    """`folder/relative`, refusing paths that would leave `folder` (absolute, `..`)."""
    parts = PurePosixPath(relative.replace("\\", "/")).parts
    if not parts or relative.startswith("/") or any(part in ("..", "") for part in parts):
        raise InvalidArgument(f"refusing to write {relative!r} outside {folder}", field="file")
    return folder.joinpath(*parts)


def attachment_name(content_disposition: str | None, default: str) -> str:
    """The file name a `Content-Disposition` header gives, without folders."""
    match = re.search(r'filename\*?=(?:UTF-8\'\')?"?([^";]+)"?', content_disposition or "")
    return PurePosixPath(unquote(match[1])).name if match else default


class PartFile:
    """Write to `{path}.part` and move into place only when complete."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.part = path.with_name(path.name + ".part")
        path.parent.mkdir(parents=True, exist_ok=True)
        self._handle = open(self.part, "wb")

    def write(self, chunk: bytes) -> None:
        self._handle.write(chunk)

    def commit(self) -> Path:
        self._handle.close()
        os.replace(self.part, self.path)
        return self.path

    def discard(self) -> None:
        self._handle.close()
        self.part.unlink(missing_ok=True)


def unpack(archive: Path, folder: Path, content_disposition: str | None) -> None:
    """Extract a zip archive into `folder` (checking every member stays inside); a plain file is moved there."""
    folder.mkdir(parents=True, exist_ok=True)
    if not zipfile.is_zipfile(archive):
        os.replace(archive, inside(folder, attachment_name(content_disposition, "output")))
        return
    try:
        with zipfile.ZipFile(archive) as zf:
            for member in zf.infolist():
                if member.filename.rstrip("/"):
                    inside(folder, member.filename.rstrip("/"))
            zf.extractall(folder)
    except (zipfile.BadZipFile, InvalidArgument) as exc:
        raise FedpeError(f"the downloaded archive cannot be unpacked: {exc}") from exc
    finally:
        archive.unlink(missing_ok=True)
