"""Imported by the runner's fork server (deployments/fast_start.py): one-time costs of MLflow and
Prefect, paid once there instead of in every flow run.

- Logging a model checks its pip requirements against the installed packages, and MLflow builds
  its module-to-package map for that by reading every installed distribution's file list: 1.6 s
  of the 2.1 s a `log_model` took here, between a training's last round and its result. The map
  is a module-level cache, so building it before the fork gives every flow run a built one. The
  call is to a private MLflow function (mlflow is pinned exactly in pyproject.toml); if it
  moves, each flow run simply builds the map itself again.
- Each flow run loads its result storage block, and Prefect looks for collections (plugins) by
  reading every installed distribution's entry points first (`load_prefect_collections`, once per
  process); MLflow does the same for its request-header plugins when its tracking client is first
  imported. Both keep what they found in module state, so doing it here leaves it done in every
  flow run, ahead of the flow's first line (py-spy showed these scans in the flow runs' start).
"""

from __future__ import annotations

import mlflow.pyfunc  # noqa: F401 - imported before the fork, with what log_model needs
import mlflow.sklearn  # noqa: F401 - the flavour linear models and forests are registered in
import mlflow.tracking.request_header.registry  # noqa: F401 - scans the request-header plugins at import
from prefect.plugins import load_prefect_collections

try:
    from mlflow.utils.requirements_utils import _init_modules_to_packages_map

    _init_modules_to_packages_map()
except (ImportError, AttributeError):  # pragma: no cover - a newer MLflow: only slower
    pass

load_prefect_collections()
