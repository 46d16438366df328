"""Paths a client names inside an execution's outputs: checked before the store sees them."""

from __future__ import annotations

import re

from fedpe.errors import InvalidArgument

_COMPONENT = re.compile(r"^[^/\\\x00]+$")


def safe_component(value: str, *, field: str) -> str:
    """One folder name (a host): no separators, no `.`/`..`, nothing empty."""
    if not value or value in (".", "..") or not _COMPONENT.match(value) or len(value) > 255:
        raise InvalidArgument(f"{field}: not a valid name: {value!r}", field=field)
    return value


def safe_relative(path: str, *, field: str = "file") -> list[str]:
    """The components of a relative path that stays inside its folder; 422 for anything else.

    Refused: absolute paths, `..` or `.` components, backslashes, empty components, NUL bytes.
    """
    if not path or path.startswith("/") or "\\" in path or "\x00" in path or re.match(r"^[A-Za-z]:", path):
        raise InvalidArgument(f"{field}: must be a relative path inside the execution's host folder", field=field)
    parts = path.split("/")
    for part in parts:
        if part in ("", ".", ".."):
            raise InvalidArgument(f"{field}: '..', '.' and empty path components are not allowed", field=field)
    return parts
