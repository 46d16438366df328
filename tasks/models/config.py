"""One pydantic schema per model, shared by the Prefect form, the API and the SDK (like strategies).

Each carries only its own options; `ModelConfig` is a plain `Union` so Prefect draws one tab
per model and pydantic picks the member by its `name`. A bare model name (`"logreg"`) is
accepted too (`ModelName`, the last tab), meaning that model with its defaults: it is how FEM's
jobs and earlier callers name a model. `model_config_of` turns either into a config, and
`TrainingSpec` gets `(name, options)` from it (`as_training`).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

L2 = Annotated[float, Field(ge=0, le=10, description="L2 penalty on the weight matrices.")]
Hidden = Annotated[int, Field(ge=1, le=4096, description="Hidden units of the one hidden layer.")]


class _ModelConfigBase(BaseModel):
    model_config = ConfigDict(extra="forbid", protected_namespaces=())

    def options(self) -> dict[str, Any]:
        """Keyword arguments of the model's constructor."""
        return self.model_dump(exclude={"name"})


class LogregConfig(_ModelConfigBase):
    """Multinomial logistic regression (softmax), trained with mini-batch SGD."""

    name: Literal["logreg"] = "logreg"
    l2: L2 = 0.0


class MlpConfig(_ModelConfigBase):
    """A neural net with one hidden ReLU layer (NumPy), mini-batch SGD."""

    name: Literal["mlp"] = "mlp"
    hidden: Hidden = 64
    l2: L2 = 0.0


class LinearSvmConfig(_ModelConfigBase):
    """A linear SVM (hinge loss), one-vs-rest or Crammer-Singer for several classes."""

    name: Literal["linear_svm"] = "linear_svm"
    l2: Annotated[float, Field(ge=0, le=10, description="L2 penalty (the SVM's margin term).")] = 1e-3
    multiclass: Literal["ovr", "crammer_singer"] = "ovr"


class ElasticNetConfig(_ModelConfigBase):
    """Logistic regression with L1 + L2: alpha * (l1_ratio * |W|_1 + (1 - l1_ratio) / 2 * |W|^2)."""

    name: Literal["elastic_net"] = "elastic_net"
    alpha: Annotated[float, Field(ge=0, le=10, description="Overall penalty strength.")] = 1e-3
    l1_ratio: Annotated[float, Field(ge=0, le=1, description="Share of the L1 part (1: lasso, 0: ridge).")] = 0.5


class CoxConfig(_ModelConfigBase):
    """Cox proportional hazards on a survival dataset; the clients take Newton steps."""

    name: Literal["cox"] = "cox"
    duration: Annotated[str, Field(min_length=1, description="The column of follow-up times.")] = "duration"
    event: Annotated[str, Field(min_length=1, description="The column that is 1 for an event, 0 if censored.")] = "event"
    l2: Annotated[float, Field(ge=0, le=10, description="L2 penalty on the coefficients.")] = 1e-4
    newton_steps: Annotated[int, Field(ge=1, le=50, description="Newton steps per client per round.")] = 1


class TorchMlpConfig(MlpConfig):
    """The one-hidden-layer net in PyTorch on the CPU (needs the `torch` extra)."""

    name: Literal["torch_mlp"] = "torch_mlp"


class RandomForestConfig(_ModelConfigBase):
    """A random forest: each round every trained client grows trees, the server keeps the forest."""

    name: Literal["random_forest"] = "random_forest"
    n_estimators: Annotated[int, Field(ge=1, le=10000, description="Trees the global forest keeps.")] = 100
    trees_per_round: Annotated[int, Field(ge=1, le=1000, description="Trees each client grows a round.")] = 5
    max_depth: Annotated[int, Field(ge=1, le=64, description="Depth limit of every tree.")] = 8
    class_weight: Literal["none", "balanced"] = "none"

    def options(self) -> dict[str, Any]:
        options = self.model_dump(exclude={"name"})
        options["class_weight"] = None if self.class_weight == "none" else self.class_weight
        return options


class WeightedRandomForestConfig(RandomForestConfig):
    """A random forest whose trees vote with their accuracy on their client's validation split."""

    name: Literal["weighted_random_forest"] = "weighted_random_forest"


class XGBoostConfig(_ModelConfigBase):
    """Gradient boosting (XGBoost): bagging (every client boosts, trees appended) or cyclic (one a round)."""

    name: Literal["xgboost"] = "xgboost"
    training: Literal["bagging", "cyclic"] = "bagging"
    local_rounds: Annotated[int, Field(ge=1, le=100, description="Boosting rounds each client adds a round.")] = 3
    max_depth: Annotated[int, Field(ge=1, le=32, description="Depth limit of every tree.")] = 4
    learning_rate: Annotated[float, Field(gt=0, le=1, description="Shrinkage of each new tree (eta).")] = 0.1


ModelName = Literal["logreg", "mlp", "linear_svm", "elastic_net", "cox", "torch_mlp", "random_forest",
                    "weighted_random_forest", "xgboost"]

ModelConfig = Union[
    LogregConfig, MlpConfig, LinearSvmConfig, ElasticNetConfig, CoxConfig, TorchMlpConfig, RandomForestConfig,
    WeightedRandomForestConfig, XGBoostConfig,
]
"""Every model, one tab each in the Prefect form."""

ModelParameter = Union[ModelConfig, ModelName]
"""What the flow's `model` takes: a model with its options, or a model's name (its defaults)."""

#: The model FEM's flcore trains when a job names none: a FEM job through the API does the same.
FEM_DEFAULT_MODEL = "random_forest"
FEM_MODEL_NAMES: dict[str, str] = {"logistic_regression": "logreg", "lsvc": "linear_svm", "xgb": "xgboost",
                                   "nn": "mlp"}
"""The names DataTools4Heart's flcore (FEM's tool) gives fedpe's models; its random_forest,
weighted_random_forest and elastic_net have the same names here."""

_ADAPTER: TypeAdapter = TypeAdapter(ModelConfig)


def fem_model(value: Any) -> Any:
    """A `model` as FEM sends it, with FEM's names turned into fedpe's (a name, or a dict's "name")."""
    if isinstance(value, str):
        return FEM_MODEL_NAMES.get(value, value)
    if isinstance(value, dict) and isinstance(value.get("name"), str) and value["name"] in FEM_MODEL_NAMES:
        return {**value, "name": FEM_MODEL_NAMES[value["name"]]}
    return value


def model_config_of(value: Any) -> ModelConfig:
    """The config a `model` parameter stands for (a name means that model's defaults; FEM's names are taken)."""
    if isinstance(value, BaseModel):
        return value
    value = fem_model(value)
    if isinstance(value, str):
        return _ADAPTER.validate_python({"name": value})
    return _ADAPTER.validate_python(value)
