"""Demo hosts in network namespaces of their own: the federation over real network interfaces.

`fedpe up --netns` puts each demo host in a Linux network namespace with one veth pair to a
bridge in the machine's own namespace, where the scheduler listens on the bridge's address.
A host then reaches the federation only through that interface, exactly as from another
machine: nothing on the coordinator's loopback (Prefect, MLflow, the API, the store) is
reachable from it. `--netem "delay 20ms loss 1%"` adds tc netem to both ends of every link
(seed 001's network emulation), and `set_link(..., up=False)` cuts one host's cable.

Needs root and iproute2 (`ip`, `tc`); `unavailable()` says why not where they are missing. Names
derive from FEDPE_HOME, so two federations on one machine never share a bridge or a subnet.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from dataclasses import asdict, dataclass, field
from pathlib import Path

from fedpe.errors import StackError


@dataclass(frozen=True)
class HostLink:
    host: str
    namespace: str
    veth: str  # the machine's end; the host's end is eth0 inside its namespace
    address: str


@dataclass
class Network:
    bridge: str
    gateway: str
    prefix: int
    links: dict[str, HostLink] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"bridge": self.bridge, "gateway": self.gateway, "prefix": self.prefix,
                "links": {h: asdict(link) for h, link in self.links.items()}}

    @classmethod
    def from_dict(cls, raw: dict) -> "Network":
        return cls(raw["bridge"], raw["gateway"], raw["prefix"],
                   {h: HostLink(**link) for h, link in raw.get("links", {}).items()})


def _run(*argv: str, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    if check and result.returncode != 0:
        raise StackError(f"{' '.join(argv)} failed: {(result.stderr or result.stdout).strip()}")
    return result


def unavailable() -> str | None:
    """Why namespaces cannot be made here (None when they can)."""
    if os.geteuid() != 0:
        return "network namespaces need root"
    for tool in ("ip", "tc"):
        if shutil.which(tool) is None:
            return f"network namespaces need iproute2 ({tool} is not installed)"
    probe = f"fp-probe-{os.getpid()}"
    made = _run("ip", "netns", "add", probe, check=False)
    if made.returncode != 0:
        return f"the kernel refuses network namespaces: {made.stderr.strip()}"
    _run("ip", "netns", "delete", probe, check=False)
    return None


def plan(home: Path, hosts: list[str]) -> Network:
    """Names and addresses for `hosts` under `home` (nothing is made yet)."""
    digest = hashlib.sha256(str(Path(home).resolve()).encode()).digest()
    tag = digest[:3].hex()
    subnet = f"10.{100 + digest[3] % 100}.{digest[4]}"
    network = Network(bridge=f"fpb{tag}", gateway=f"{subnet}.1", prefix=24)
    if len(hosts) > 250:
        raise StackError("--netns takes at most 250 hosts")
    for i, host in enumerate(hosts):
        network.links[host] = HostLink(host, f"fp-{tag}-{i}", f"fpv{tag}{i}", f"{subnet}.{10 + i}")
    return network


def create(network: Network, *, netem: str | None = None) -> Network:
    """Make the bridge, then one namespace and veth pair per host (removing leftovers of an earlier run)."""
    remove(network)
    _run("ip", "link", "add", network.bridge, "type", "bridge")
    _run("ip", "addr", "add", f"{network.gateway}/{network.prefix}", "dev", network.bridge)
    _run("ip", "link", "set", network.bridge, "up")
    for link in network.links.values():
        _run("ip", "netns", "add", link.namespace)
        _run("ip", "link", "add", link.veth, "type", "veth", "peer", "name", "eth0", "netns", link.namespace)
        _run("ip", "link", "set", link.veth, "master", network.bridge)
        _run("ip", "link", "set", link.veth, "up")
        inside = ("ip", "netns", "exec", link.namespace)
        _run(*inside, "ip", "addr", "add", f"{link.address}/{network.prefix}", "dev", "eth0")
        _run(*inside, "ip", "link", "set", "eth0", "up")
        _run(*inside, "ip", "link", "set", "lo", "up")
        # A default route, as a real host has one: Dask finds its own address through it.
        _run(*inside, "ip", "route", "add", "default", "via", network.gateway)
        if netem:
            args = netem.split()
            _run("tc", "qdisc", "add", "dev", link.veth, "root", "netem", *args)
            _run(*inside, "tc", "qdisc", "add", "dev", "eth0", "root", "netem", *args)
    return network


def remove(network: Network) -> None:
    """Delete what `create` made (quietly: parts may be gone already)."""
    for link in network.links.values():
        _run("ip", "link", "delete", link.veth, check=False)
        _run("ip", "netns", "delete", link.namespace, check=False)
    _run("ip", "link", "delete", network.bridge, check=False)


def exec_in(link: HostLink) -> list[str]:
    """The argv prefix that runs a command inside the host's namespace."""
    return ["ip", "netns", "exec", link.namespace]


def set_link(link: HostLink, *, up: bool) -> None:
    """Plug or unplug the host's cable (its veth on the machine's side)."""
    _run("ip", "link", "set", link.veth, "up" if up else "down")
