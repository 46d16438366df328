"""Private folders and files: 0700 folders and 0600 files from the moment they exist.

Every secret of a federation (keys, auth strings, passwords) is written through here, so its
mode never depends on the umask of whoever ran `fedpe up`.
"""

from __future__ import annotations

import os
from pathlib import Path


def private_dir(path: Path) -> Path:
    """Make `path` (and its parents) if needed; `path` itself ends at mode 0700."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(path, 0o700)
    return path


def write_file(path: Path, data: bytes, *, private: bool) -> None:
    """Write atomically: a hidden sibling at its final mode, then renamed over `path`."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    mode = 0o600 if private else 0o644
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as fh:
            fd = -1
            fh.write(data)
    finally:
        if fd != -1:
            os.close(fd)
    os.replace(tmp, path)


def write_private(path: Path, data: bytes) -> None:
    write_file(path, data, private=True)
