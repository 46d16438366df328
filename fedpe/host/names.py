"""What a host may be called: one rule for `fedpe host start`, `fedpe tls issue-host` and revoke.

The flows' pattern (no leading punctuation: not an option, not a dot file), and none of the
names the federation's own certificates carry, so no host can pass for the scheduler or the
coordinator.
"""

from __future__ import annotations

import re

from fedpe.errors import InvalidArgument
from flows.params import HOST_NAME_PATTERN
from tasks.wire.identity import RESERVED_NAMES

HOST_NAME = re.compile(HOST_NAME_PATTERN)


def check_name(name: str, *, option: str = "--name") -> str:
    """Refuse a host name that Dask, the store's paths, a shell or the guards would trip on."""
    if not HOST_NAME.fullmatch(name or ""):
        raise InvalidArgument(
            f"{option}: invalid host name {name!r} (letters, digits, '-', '_', '.'; 1-63 characters, "
            "starting with a letter or digit)", field="name")
    if name in RESERVED_NAMES:
        raise InvalidArgument(f"{option}: {name!r} is reserved for the federation's own certificates; "
                              "choose another host name", field="name")
    return name
