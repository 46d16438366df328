"""A host's policy: what it runs, for whom, on which data, under which floors; decided on the host.

One YAML file, given to `fedpe host start --policy FILE`, read once when the host starts and
checked here against every role before the role reads any data (as vantage6's node
configuration lists allowed algorithms and users, and NVFlare's site authorisation policy
does). The host advertises it (`summary`) so the API can refuse early, but the decision that
counts is the host's own, and every one is written to the host's audit log.

Example::

    tools: [health-check, flcore, fed-stats]   # or "*"
    owners: "*"                                # or a list of user names
    datasets:                                  # per tool; a tool not listed may read any
      flcore: [breast-cancer]
    fed_stats:
      min_count: 10                            # floor: requesters may raise it, never lower it
    flcore:
      require_dp: true
      max_epsilon: 8.0
    max_concurrent_roles: 4
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from fedpe.errors import InvalidArgument, PolicyRefused

ANY = "*"


class FedStatsPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid")

    #: The fewest records any released cell may count (min and max are the means of that many values).
    min_count: Annotated[int, Field(ge=2, le=100000)] = 5

    def floor(self, asked: object) -> int:
        """The fewest records a released cell counts: what the requester asked, never below the host's
        `min_count` (fed-stats and a training's preparation passes alike)."""
        try:
            asked = int(asked or 0)
        except (TypeError, ValueError):
            asked = 0
        return max(asked, self.min_count)

    @property
    def extremes_k(self) -> int:
        """How many extremes a released min or max averages: this floor alone, whatever a requester
        asks, so two requests never difference into one record's value (fed-stats, the median's ranges)."""
        return self.min_count


class FlcorePolicy(BaseModel):
    model_config = ConfigDict(extra="forbid")

    require_dp: bool = False
    #: The largest privacy loss the host accepts over a whole training (RDP accounting, its own delta).
    max_epsilon: Annotated[float | None, Field(gt=0)] = None
    #: The least noise the host adds to its own updates (z), whatever the training asks; the job's z if more.
    noise_multiplier: Annotated[float | None, Field(gt=0, le=100)] = None
    #: The loosest clipping norm the host accepts on its own updates; the job's if tighter.
    clipping_norm: Annotated[float | None, Field(gt=0)] = None

    @property
    def private(self) -> bool:
        """A host with a privacy floor trains only with DP, and noises and accounts its own updates."""
        return self.require_dp or self.max_epsilon is not None or self.noise_multiplier is not None


class HostDP(BaseModel):
    """The DP a private client host applies to its own updates, against whoever runs the server.

    The server host sees each client's update as it is, so the host adds noise to its clipped
    update itself, with fresh randomness the server cannot know, and accounts it with sampling
    rate 1 (the host knows when it was asked): its epsilon holds against the server host, not
    only against readers of the aggregate.
    """

    noise_multiplier: float
    clipping_norm: float
    delta: float
    max_epsilon: float | None = None

    def epsilon(self, rounds: int) -> float:
        from tasks.privacy import PrivacyAccountant

        return PrivacyAccountant(self.noise_multiplier, 1.0, self.delta).epsilon(rounds)


def host_dp(policy: FlcorePolicy, dp: dict | None) -> HostDP | None:
    """The DP this host applies to a training whose `dp` settings are these (None: it does not noise)."""
    if not policy.private or not dp:
        return None
    asked_z = float(dp["noise_multiplier"]) if _positive(dp.get("noise_multiplier")) else 0.0
    z = max(asked_z, policy.noise_multiplier or 0.0)
    norm = float(dp.get("clipping_norm") or 1.0)
    if policy.clipping_norm is not None:
        norm = min(norm, policy.clipping_norm)
    return HostDP(noise_multiplier=z, clipping_norm=norm, delta=float(dp.get("delta") or 1e-5),
                  max_epsilon=policy.max_epsilon)


class HostPolicy(BaseModel):
    """What a host accepts. The defaults run every tool for everyone with the default floors."""

    model_config = ConfigDict(extra="forbid")

    tools: list[str] | Literal["*"] = ANY
    owners: list[str] | Literal["*"] = ANY
    datasets: dict[str, list[str] | Literal["*"]] = Field(default_factory=dict)
    fed_stats: FedStatsPolicy = Field(default_factory=FedStatsPolicy)
    flcore: FlcorePolicy = Field(default_factory=FlcorePolicy)
    #: The hosts whose server role this host's client roles answer (any host is a possible server).
    servers: list[str] | Literal["*"] = ANY
    max_concurrent_roles: Annotated[int, Field(ge=1, le=1024)] = 8

    def summary(self) -> dict[str, Any]:
        """What the host advertises (it holds nothing secret)."""
        return self.model_dump(mode="json")


@dataclass(frozen=True)
class Decision:
    """A policy's answer for one role: allowed or not, the rule that decided, and floors applied."""

    allowed: bool
    rule: str
    message: str
    adjustments: dict = field(default_factory=dict)

    def as_audit(self) -> dict:
        return {"allowed": self.allowed, "rule": self.rule, "message": self.message, "adjustments": self.adjustments}


def _listed(value: str, allowed: list[str] | str) -> bool:
    return allowed == ANY or value in allowed


def decide(policy: HostPolicy, host: str, *, tool: str, task: str, owner: str, dataset: str | None,
           params: dict, live_roles: int, server: str | None = None) -> Decision:
    """The host's decision on one role, before it reads any data.

    `params` are the role's settings: fed-stats' `min_count`; flcore's `dp` (a dict or None),
    `rounds` and `sampling_rate` for the privacy floor.
    """
    def refuse(rule: str, why: str) -> Decision:
        return Decision(False, rule, f"host {host} refuses {task} of {owner}: {why} (policy rule {rule})")

    if not _listed(tool, policy.tools):
        return refuse("tools", f"tool {tool} is not among the tools it runs ({', '.join(policy.tools)})")
    if not _listed(owner, policy.owners):
        return refuse("owners", f"it runs {tool} only for {', '.join(policy.owners)}")
    if dataset is not None and tool in policy.datasets and not _listed(dataset, policy.datasets[tool]):
        allowed = policy.datasets[tool]
        return refuse(f"datasets.{tool}", f"{tool} may read only {', '.join(allowed) if allowed else 'no dataset'}, "
                                          f"not {dataset}")
    if server is not None and task != "flcore-server" and not _listed(server, policy.servers):
        return refuse("servers", f"it answers only the servers {', '.join(policy.servers)}, not {server}")
    if live_roles >= policy.max_concurrent_roles:
        return refuse("max_concurrent_roles", f"it already runs {live_roles} roles, its limit")
    adjustments: dict = {}
    if tool == "fed-stats":
        if policy.fed_stats.floor(params.get("min_count")) != params.get("min_count"):
            adjustments["min_count"] = policy.fed_stats.floor(params.get("min_count"))
        # min and max average the host's floor of extremes, whatever min_count the requester chose
        adjustments["extremes_k"] = policy.fed_stats.extremes_k
    if tool == "flcore" and task == "flcore-client":
        dp = params.get("dp")
        if policy.flcore.private and not dp:
            return refuse("flcore.require_dp", "it trains only with differential privacy (dp)")
        if policy.flcore.private and not _positive(dp.get("noise_multiplier")) and not policy.flcore.noise_multiplier:
            return refuse("flcore.require_dp", "it trains only with differential privacy, and a noise_multiplier "
                                               f"of {dp.get('noise_multiplier')!r} adds no noise")
        mine = host_dp(policy.flcore, dp)
        if mine is not None and mine.max_epsilon is not None:
            planned = mine.epsilon(int(params.get("rounds") or 1))
            if planned > mine.max_epsilon:
                return refuse("flcore.max_epsilon", f"the training would spend epsilon {planned:.3g} over its rounds "
                                                   f"(noise {mine.noise_multiplier:g}, every round), more than its "
                                                   f"max_epsilon {mine.max_epsilon:g}")
    return Decision(True, "allowed", f"host {host} runs {task} of {owner}", adjustments)


def _positive(value) -> bool:
    try:
        return 0 < float(value) < float("inf")
    except (TypeError, ValueError):
        return False


def load_policy(path: str | Path | None) -> HostPolicy:
    """The policy in `path` (YAML), or the default policy for None; InvalidArgument names the bad field."""
    if path is None:
        return HostPolicy()
    import yaml

    try:
        raw = yaml.safe_load(Path(path).read_text()) or {}
    except OSError as exc:
        raise InvalidArgument(f"--policy: cannot read {path}: {exc.strerror or exc}", field="policy") from None
    except yaml.YAMLError as exc:
        raise InvalidArgument(f"--policy: {path} is not YAML: {' '.join(str(exc).split())}", field="policy") from None
    if not isinstance(raw, dict):
        raise InvalidArgument(f"--policy: {path} must hold a mapping (tools, owners, datasets, ...)", field="policy")
    try:
        return HostPolicy.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ())) or "(file)"
        raise InvalidArgument(f"--policy: {path}: {where}: {first.get('msg')}", field="policy") from None


def check_advertised(record: dict | None, host: str, *, field: str, **role) -> None:
    """Refuse early what the host's advertised policy would refuse (PolicyRefused naming `field`).

    The same `decide` the host runs; a host that advertises no policy is checked only by itself.
    `role` holds `decide`'s keywords (tool, task, owner, dataset, params).
    """
    advertised = (record or {}).get("policy")
    if not advertised:
        return
    try:
        policy = HostPolicy.model_validate(advertised)
    except ValidationError:
        return  # a record from another fedpe version: the host still decides
    decision = decide(policy, host, live_roles=0, **role)
    if not decision.allowed:
        raise PolicyRefused(decision.message, field=field, details={"host": host, "rule": decision.rule})
