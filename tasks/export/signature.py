"""The registered model's signature, from the preparation plan's column names and kinds.

Records never leave the hosts, so the coordinator has none to infer a signature or an input
example from: the plan says which raw columns the model takes, the hosts' described dtypes
(`int64`, `float64`, `object`...) their MLflow types (without them numeric columns are
`double`, categorical ones `string`), and the labels what it returns. An integer column
must be `long`: MLflow refuses int64 input for a `double` column (precision).
"""

from __future__ import annotations

from typing import Any

import numpy as np


def column_type(dtype: str | None, categorical: bool) -> str:
    """MLflow's type name for a raw column of this pandas dtype."""
    if categorical or dtype is None:
        return "string" if categorical else "double"
    if dtype.startswith(("int", "uint", "Int", "UInt")):
        return "long"
    if dtype in ("bool", "boolean"):
        return "boolean"
    return "double"


def raw_input_schema(plan: Any, dtypes: dict[str, str] | None = None) -> Any:
    """An MLflow `Schema` of the raw columns the model takes, in the plan's order."""
    from mlflow.types import ColSpec, Schema

    from tasks.prep import PrepPlan

    plan = PrepPlan.model_validate(plan)
    dtypes = dtypes or {}
    return Schema([ColSpec(column_type(dtypes.get(col), col in plan.categories), col) for col in plan.features])


def label_type(labels: list[Any]) -> str:
    """MLflow's type name for an array of these labels."""
    kind = np.asarray(labels).dtype.kind
    return {"b": "boolean", "i": "long", "u": "long", "f": "double"}.get(kind, "string")


def model_signature(plan: Any, labels: list[Any] | None, *, dtypes: dict[str, str] | None = None,
                    risk: bool = False) -> Any:
    """Raw columns in; one label per row out (a risk score for a survival model)."""
    from mlflow.models import ModelSignature
    from mlflow.types import ColSpec, Schema

    output = ColSpec("double" if risk or not labels else label_type(labels))
    return ModelSignature(inputs=raw_input_schema(plan, dtypes), outputs=Schema([output]))
