"""The environment of each process `fedpe up` starts: what it needs, and no secret it does not.

Every child starts from `inherited()`: the caller's environment without anything that looks
like a credential (so a store key or a token exported in the shell never reaches a process
that was not meant to hold it). Each then gets only its own additions: the Prefect server its
auth string, MLflow its admin bootstrap and Flask secret, the coordinator's processes (runner,
API) the clients' credentials and the coordinator certificate, the scheduler its certificate
and guard. Hosts get none of these (`fedpe host start` keeps an explicit short list).
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Mapping

from fedpe.stack.config import StackConfig
from fedpe.stack.secrets import Secrets

#: Names of variables that carry credentials; none is inherited by a child.
SECRET_NAME = re.compile(r"(PASSWORD|PASSWD|SECRET|TOKEN|AUTH_STRING|API_KEY|ACCESS_KEY|PRIVATE|CREDENTIAL|"
                         r"^AWS_|^MLFLOW_TRACKING_(USERNAME|PASSWORD|TOKEN)$|^FEDPE_API_KEY$)", re.I)


def inherited(source: Mapping[str, str] | None = None) -> dict[str, str]:
    """The caller's environment minus every variable whose name says it holds a credential."""
    source = os.environ if source is None else source
    return {k: v for k, v in source.items() if not SECRET_NAME.search(k)}


def common(config: StackConfig) -> dict[str, str]:
    """What every service of the stack shares: where it lives, no telemetry, Dask's rules."""
    env = inherited()
    env.update({
        "FEDPE_HOME": str(config.home),
        "PREFECT_HOME": str(config.home / "prefect"),
        "PREFECT_API_URL": config.prefect_api_url,
        # With no internet, telemetry fails and on a new database races the migrations.
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_LOGGING_LEVEL": env.get("PREFECT_LOGGING_LEVEL", "INFO"),
        "MLFLOW_TRACKING_URI": config.mlflow_uri,
        "PYTHONUNBUFFERED": "1",
    })
    return env


def prefect_db(config: StackConfig) -> Path:
    """The Prefect server's SQLite database."""
    return config.home / "prefect" / "prefect.db"


def prefect_server(config: StackConfig, secrets: Secrets) -> dict[str, str]:
    return {
        **common(config),
        "PREFECT_API_DATABASE_CONNECTION_URL": f"sqlite+aiosqlite:///{prefect_db(config)}",
        # Every API call but /health and /ready needs it (the UI asks for it once).
        "PREFECT_SERVER_API_AUTH_STRING": secrets.prefect_auth_string,
        "PREFECT_SERVER_CORS_ALLOWED_ORIGINS": f"http://{config.bind}:{config.prefect_port}",
    }


def mlflow_server(config: StackConfig, secrets: Secrets, auth_config: str) -> dict[str, str]:
    return {
        **common(config),
        "MLFLOW_AUTH_CONFIG_PATH": auth_config,
        # Read only when the auth database has no admin yet (the first start of a FEDPE_HOME).
        "MLFLOW_AUTH_ADMIN_PASSWORD": secrets.mlflow_admin_password,
        "MLFLOW_FLASK_SERVER_SECRET_KEY": secrets.mlflow_flask_secret,
        # fedpe uses neither MLflow's job runner nor its huey consumers (7 processes).
        "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
    }


def mlflow_app(config: StackConfig, backend: str, artifacts: str) -> dict[str, str]:
    """What `mlflow server --backend-store-uri BACKEND --artifacts-destination ARTIFACTS --workers 1
    --cors-allowed-origins URI` hands the uvicorn process it starts (MLflow 3.17, pinned in
    pyproject.toml), for starting that process directly: the `mlflow server` command imports all
    of MLflow's server only to start it (3.5 s of CPU of `fedpe up`) and then waits beside it.
    Without `_MLFLOW_AUTH_ADMIN_BOOTSTRAPPED` the basic-auth app makes its admin itself."""
    import uuid

    return {
        "MLFLOW_TRACKING_URI": backend, "MLFLOW_REGISTRY_URI": backend,
        "MLFLOW_ENABLE_WORKSPACES": "false",
        "MLFLOW_SERVER_CORS_ALLOWED_ORIGINS": config.mlflow_uri,
        "MLFLOW_SERVER_X_FRAME_OPTIONS": "SAMEORIGIN",
        "_MLFLOW_SERVER_FILE_STORE": backend, "_MLFLOW_SERVER_REGISTRY_STORE": backend,
        "_MLFLOW_SERVER_ARTIFACT_ROOT": "mlflow-artifacts:/", "_MLFLOW_SERVER_SERVE_ARTIFACTS": "true",
        "_MLFLOW_SERVER_ARTIFACT_DESTINATION": artifacts,
        "_MLFLOW_SERVER_BOOT_ID": uuid.uuid4().hex, "_MLFLOW_SGI_NAME": "uvicorn", "_MLFLOW_IN_JOB_EXECUTOR": "false",
    }


def scheduler(config: StackConfig) -> dict[str, str]:
    from fedpe.stack.scheduler_guard import REVOKED_ENV
    from fedpe.stack.tls import tls_files

    from fedpe.dask_settings import SCHEDULER

    return {
        **common(config),
        **SCHEDULER,  # an idle federation idles (fedpe/dask_settings.py)
        # Refuse any plain-TCP comm, inbound or outbound, rather than fall back to it.
        "DASK_DISTRIBUTED__COMM__REQUIRE_ENCRYPTION": "True",
        # A dead host's role must not be re-run from round 0 behind the server's back.
        "DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES": "0",
        # A host whose link is cut is let go within this, so it can join again under its name.
        "DASK_DISTRIBUTED__SCHEDULER__WORKER_TTL": "30s",
        # Dask's HTTP pages (workers, tasks, logs) answer anyone: on loopback, and health only.
        "DASK_DISTRIBUTED__SCHEDULER__HTTP__ROUTES": '["distributed.http.health"]',
        REVOKED_ENV: str(tls_files(config.home).revoked),
        **tls_files(config.home).crl_env(),
    }


def coordinator(config: StackConfig, secrets: Secrets) -> dict[str, str]:
    """The runner's and the API's: the clients of every service, and the coordinator's certificate."""
    from fedpe.stack.tls import tls_files

    tls = tls_files(config.home)
    return {
        **common(config),
        **secrets.prefect_client_env(),
        **secrets.mlflow_client_env(),
        **tls.coordinator.env(),
        # Each Prefect client loads a CA bundle for its SSL context, though the API is plain HTTP
        # on loopback: certifi's system bundle, 18 ms each, seven in a flcore flow run and three
        # in the API per job. One certificate instead: a 10-host flcore reached round 1 in 1.37-
        # 1.51 s against 1.47-1.68 s (medians of 6-8 runs, three federations each).
        "PREFECT_API_SSL_CERT_FILE": str(tls.ca_file),
        "FEDPE_SCHEDULER_ADDRESS": config.scheduler_address,
        "FEDPE_STORE_URL": config.store,
        "FEDPE_STORE_OPTIONS": json.dumps(config.store_options),
        "FEDPE_OWNER": config.owner,
        "FEDPE_RUNNER_LIMIT": str(config.runner_limit),
    }


def caller(config: StackConfig, secrets: Secrets | None) -> dict[str, str]:
    """What `fedpe env` prints for a Python caller on the coordinator's machine (run_deployment, MLflow)."""
    from fedpe.stack.tls import tls_files

    env = {"PREFECT_API_URL": config.prefect_api_url, "MLFLOW_TRACKING_URI": config.mlflow_uri,
           "FEDPE_HOME": str(config.home), "FEDPE_SCHEDULER_ADDRESS": config.scheduler_address,
           **tls_files(config.home).coordinator.env()}
    if config.serve_api:
        env["FEDPE_API_URL"] = f"{config.api_url}/api/v1"
    if secrets is not None:
        env.update({**secrets.prefect_client_env(), **secrets.mlflow_client_env()})
    return env
