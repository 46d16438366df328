"""One pydantic schema per aggregation strategy, shared by UI forms, API and SDK.

Each model carries only its own options, so a form can never show a knob the
chosen strategy ignores. Constraints are written as `Annotated[..., Field()]`
with a plain default: `x: float = Field(0.1, ge=0)` loses its limits in
Prefect's generated forms. `StrategyConfig` is a plain `Union` (no
`discriminator=`): pydantic still picks the member by the `name` literal,
and Prefect draws one tab per member.

Papers: FedAvg (McMahan et al. 2017, arXiv:1602.05629); FedAvgM (Hsu, Qi,
Brown 2019, arXiv:1909.06335); FedProx (Li et al. 2020, arXiv:1812.06127);
FedAdam/FedYogi/FedAdagrad (Reddi et al. 2021, arXiv:2003.00295); q-FedAvg
(Li et al. 2020, arXiv:1905.10497); median and trimmed mean (Yin et al. 2018,
arXiv:1803.01498); Krum/Multi-Krum (Blanchard et al. 2017, arXiv:1703.02757);
Bulyan (El Mhamdi et al. 2018, arXiv:1802.07927); SCAFFOLD (Karimireddy et al.
2020, arXiv:1910.06378).
"""

from __future__ import annotations

from typing import Annotated, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

ServerLR = Annotated[
    float,
    Field(gt=0, le=10, description="Server learning rate applied to the aggregated update."),
]
ByzantineCount = Annotated[
    int,
    Field(ge=0, le=100, description="Number of Byzantine (malicious) clients to tolerate."),
]


class _StrategyConfigBase(BaseModel):
    model_config = ConfigDict(extra="forbid")

    def required_clients(self) -> int:
        """Fewest clients per round the rule is defined for.

        The flow calls this before starting so a run that would fail at the
        first aggregation is refused up front.
        """
        return 1


class FedAvgConfig(_StrategyConfigBase):
    """Sample-weighted average of the client models."""

    name: Literal["fedavg"] = "fedavg"


class FedAvgMConfig(_StrategyConfigBase):
    """FedAvg with server momentum on the pseudo-gradient."""

    name: Literal["fedavgm"] = "fedavgm"
    server_lr: ServerLR = 1.0
    server_momentum: Annotated[
        float, Field(ge=0, lt=1, description="Server momentum (beta in Hsu et al.).")
    ] = 0.9


class FedProxConfig(_StrategyConfigBase):
    """FedAvg aggregation; clients add a proximal term to their loss."""

    name: Literal["fedprox"] = "fedprox"
    mu: Annotated[
        float,
        Field(ge=0, le=10, description="Proximal term weight: (mu/2)*||w - w_global||^2."),
    ] = 0.01


Beta1 = Annotated[float, Field(ge=0, lt=1, description="Decay of the first moment m.")]
Beta2 = Annotated[float, Field(ge=0, lt=1, description="Decay of the second moment v.")]
Tau = Annotated[
    float,
    Field(gt=0, le=1, description="Adaptivity: added to sqrt(v); v also starts at tau^2."),
]


class FedAdamConfig(_StrategyConfigBase):
    """Adam on the server, applied to the averaged client update."""

    name: Literal["fedadam"] = "fedadam"
    server_lr: ServerLR = 0.1
    beta_1: Beta1 = 0.9
    beta_2: Beta2 = 0.99
    tau: Tau = 1e-3


class FedYogiConfig(_StrategyConfigBase):
    """Yogi on the server: like Adam but v changes additively, so it grows slower."""

    name: Literal["fedyogi"] = "fedyogi"
    server_lr: ServerLR = 0.01
    beta_1: Beta1 = 0.9
    beta_2: Beta2 = 0.99
    tau: Tau = 1e-3


class FedAdagradConfig(_StrategyConfigBase):
    """Adagrad on the server (v accumulates, so it has no beta_2)."""

    name: Literal["fedadagrad"] = "fedadagrad"
    server_lr: ServerLR = 0.1
    beta_1: Beta1 = 0.0
    tau: Tau = 1e-3


class QFedAvgConfig(_StrategyConfigBase):
    """q-FedAvg: higher-loss clients weigh more, for fairer accuracy."""

    name: Literal["qfedavg"] = "qfedavg"
    q: Annotated[
        float, Field(ge=0, le=100, description="Fairness exponent; 0 gives the plain mean.")
    ] = 0.2


class FedMedianConfig(_StrategyConfigBase):
    """Coordinate-wise median of the client models."""

    name: Literal["fedmedian"] = "fedmedian"


class TrimmedMeanConfig(_StrategyConfigBase):
    """Coordinate-wise mean after trimming both tails."""

    name: Literal["trimmed_mean"] = "trimmed_mean"
    beta: Annotated[
        float,
        Field(ge=0, lt=0.5, description="Fraction of clients cut from each end per coordinate."),
    ] = 0.2


class KrumConfig(_StrategyConfigBase):
    """Krum: keep the single client model closest to its neighbours."""

    name: Literal["krum"] = "krum"
    f: ByzantineCount = 1

    def required_clients(self) -> int:
        return 2 * self.f + 3


class MultiKrumConfig(_StrategyConfigBase):
    """Multi-Krum: average the m client models with the best Krum scores."""

    name: Literal["multikrum"] = "multikrum"
    f: ByzantineCount = 1
    m: Annotated[
        int, Field(ge=1, le=1000, description="Number of best-scored models averaged.")
    ] = 2

    def required_clients(self) -> int:
        return max(2 * self.f + 3, self.m)


class BulyanConfig(_StrategyConfigBase):
    """Bulyan: repeated Krum selection, then a trimmed mean around the median."""

    name: Literal["bulyan"] = "bulyan"
    f: ByzantineCount = 1

    def required_clients(self) -> int:
        return 4 * self.f + 3


class ScaffoldConfig(_StrategyConfigBase):
    """SCAFFOLD: control variates correct client drift."""

    name: Literal["scaffold"] = "scaffold"
    server_lr: ServerLR = 1.0


# FedAvgConfig first: an input with no "name" matches several members equally
# well and pydantic then takes the first, so the default strategy is FedAvg.
StrategyConfig = Union[
    FedAvgConfig,
    FedAvgMConfig,
    FedProxConfig,
    FedAdamConfig,
    FedYogiConfig,
    FedAdagradConfig,
    QFedAvgConfig,
    FedMedianConfig,
    TrimmedMeanConfig,
    KrumConfig,
    MultiKrumConfig,
    BulyanConfig,
    ScaffoldConfig,
]


def min_clients(config: StrategyConfig) -> int:
    """Fewest clients per round `config` can aggregate (flow pre-check)."""
    return config.required_clients()


def strategy_problem(value: object) -> tuple[str, str] | None:
    """What is wrong with a strategy given by name, as (field, message); None when nothing is.

    Validating the plain union reports only "not valid under any of the given schemas" (JSON
    schema) or one error per member (pydantic); picking the member by its `name` first names
    the one option that is wrong, or the names there are.
    """
    if not isinstance(value, dict) or "name" not in value:
        return None
    names = [m.model_fields["name"].default for m in StrategyConfig.__args__]
    if value["name"] not in names:
        return "strategy.name", f"unknown strategy {value['name']!r} (one of: {', '.join(names)})"
    try:
        _BY_NAME.validate_python(value)
    except ValidationError as exc:
        first = exc.errors()[0]
        path = ".".join(str(p) for p in first["loc"][1:])  # loc[0] is the member's tag
        return f"strategy.{path}" if path else "strategy", first["msg"]
    return None


_BY_NAME = TypeAdapter(Annotated[StrategyConfig, Field(discriminator="name")])
