"""Who is at the other end of a Dask comm: read from the certificate it presented.

The federation CA signs three kinds of certificate: the scheduler's (CN `fedpe-scheduler`),
the coordinator's (CN `fedpe-coordinator`: the runner's flows, the API and the admin CLI) and
one per host, whose CN is the host's name. Mutual TLS proves the chain; this module turns the
peer certificate into an `Identity` that the scheduler's and the hosts' guards decide on.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

SCHEDULER_CN = "fedpe-scheduler"
COORDINATOR_CN = "fedpe-coordinator"
#: Names no host may take: they would pass for the federation's own parties (or the CA's file).
RESERVED_NAMES = frozenset({SCHEDULER_CN, COORDINATOR_CN, "ca"})

Kind = Literal["scheduler", "coordinator", "host", "unknown"]


@dataclass(frozen=True)
class Identity:
    """A peer as its certificate names it; `serial` is the certificate's (hex, upper case)."""

    kind: Kind
    name: str
    serial: str = ""

    @property
    def is_host(self) -> bool:
        return self.kind == "host"

    def __str__(self) -> str:
        return f"{self.kind} {self.name}" if self.kind == "host" else self.name


UNKNOWN = Identity("unknown", "(no certificate)")


def normal_serial(serial: str | int) -> str:
    """A certificate serial as upper-case hex without leading zeros (how fedpe stores them)."""
    try:
        return format(serial if isinstance(serial, int) else int(serial, 16), "X")
    except ValueError:
        return ""


def common_name(peercert: dict | None) -> str | None:
    """The subject's CN of a certificate as `ssl.SSLSocket.getpeercert()` returns it."""
    for rdn in (peercert or {}).get("subject", ()):
        for key, value in rdn:
            if key == "commonName":
                return value
    return None


def identity_of_cert(peercert: dict | None) -> Identity:
    """The identity a validated peer certificate stands for."""
    name = common_name(peercert)
    if not name:
        return UNKNOWN
    serial = normal_serial(str((peercert or {}).get("serialNumber") or ""))
    if name == SCHEDULER_CN:
        return Identity("scheduler", name, serial)
    if name == COORDINATOR_CN:
        return Identity("coordinator", name, serial)
    if name in RESERVED_NAMES:
        return Identity("unknown", name, serial)
    return Identity("host", name, serial)


def identity_of(comm: Any) -> Identity:
    """The identity of a Dask comm's peer (UNKNOWN for a comm without a peer certificate)."""
    try:
        info = comm.extra_info
    except Exception:
        return UNKNOWN
    return identity_of_cert(info.get("peercert") if isinstance(info, dict) else None)
