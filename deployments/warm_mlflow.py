"""Imported by the runner's fork server (deployments/fast_start.py): MLflow's one-time costs, paid
once there instead of in every flow run.

Logging a model checks its pip requirements against the installed packages, and MLflow builds
its module-to-package map for that by reading every installed distribution's file list: 1.6 s of
the 2.1 s a `log_model` took here, between a training's last round and its result. The map is a
module-level cache, so building it before the fork gives every flow run a built one. The call is
to a private MLflow function (mlflow is pinned exactly in pyproject.toml); if it moves, each
flow run simply builds the map itself again.
"""

from __future__ import annotations

import mlflow.pyfunc  # noqa: F401 - imported before the fork, with what log_model needs
import mlflow.sklearn  # noqa: F401 - the flavour linear models and forests are registered in

try:
    from mlflow.utils.requirements_utils import _init_modules_to_packages_map

    _init_modules_to_packages_map()
except (ImportError, AttributeError):  # pragma: no cover - a newer MLflow: only slower
    pass
