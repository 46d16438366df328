"""The hosts of a federation as the Dask scheduler knows them.

A host is a Dask worker named after it; its agent publishes a record (datasets, resources,
last seen) in the scheduler's metadata under `fedpe-hosts/<name>`, which stays after the
host leaves so that a disconnected host can be listed with when it was last seen.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from fedpe.errors import HostNotAvailable

if TYPE_CHECKING:
    import distributed

HOSTS_METADATA_KEY = "fedpe-hosts"
FEDERATION_METADATA_KEY = "fedpe-federation"
AGENT_PLUGIN_NAME = "fedpe-host"
#: How often a host agent publishes its record and looks for changed dataset files (fedpe/host/agent.py).
AGENT_REFRESH_S = 10.0


def connected_hosts(client: "distributed.Client") -> dict[str, str]:
    """Name -> worker address of every worker connected now."""
    workers = client.scheduler_info(n_workers=-1)["workers"]
    return {str(info["name"]): address for address, info in workers.items()}


def host_records(client: "distributed.Client") -> dict[str, dict]:
    """Every record a host agent has published, connected or not."""
    return dict(client.get_metadata([HOSTS_METADATA_KEY], default={}) or {})


def available_hosts(connected: Iterable[str], disabled: Iterable[str]) -> list[str]:
    """The hosts a tool runs on when the caller names none: connected and not disabled, sorted."""
    off = set(disabled)
    return sorted(h for h in connected if h not in off)


def check_hosts(
    requested: list[str], connected: dict[str, str], disabled: list[str], *, field: str = "hosts"
) -> None:
    """Refuse hosts that are unknown, disconnected or disabled, naming them and the field.

    Work pinned to a name that is not connected would wait forever, so this runs before any
    role is placed.
    """
    if len(set(requested)) != len(requested):
        dupes = sorted({h for h in requested if requested.count(h) > 1})
        raise HostNotAvailable(f"{field}: host(s) listed twice: {', '.join(dupes)}", field=field)
    missing = [h for h in requested if h not in connected]
    if missing:
        known = ", ".join(sorted(connected)) or "none"
        raise HostNotAvailable(
            f"{field}: host(s) not connected: {', '.join(missing)} (connected: {known})", field=field
        )
    off = [h for h in requested if h in disabled]
    if off:
        raise HostNotAvailable(f"{field}: host(s) disabled by an admin: {', '.join(off)}", field=field)
