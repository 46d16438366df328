"""Test-wide settings, applied before any test module imports Prefect.

Prefect reads its settings when it is first imported, so the integration federation's ports
are chosen here and exported at once, with the credentials a caller on the coordinator's
machine holds (`fedpe env`): the services' secrets and the federation's certificates are made
in the test FEDPE_HOME now, and `fedpe up` keeps them. The federation itself starts only when a
test asks.
"""

import json
import os
import socket
import tempfile
from pathlib import Path

from fedpe.stack.secrets import ensure_secrets
from fedpe.stack.tls import ensure_federation_tls, tls_files


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


PORTS = {name: _free_port() for name in ("prefect", "scheduler", "dashboard", "mlflow", "api")}
HOME = tempfile.mkdtemp(prefix="fedpe-test-")

os.environ.update({
    "FEDPE_TEST_PORTS": json.dumps(PORTS),
    "FEDPE_HOME": HOME,
    "PREFECT_HOME": os.path.join(HOME, "prefect-client"),
    "PREFECT_API_URL": f"http://127.0.0.1:{PORTS['prefect']}/api",
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "MLFLOW_TRACKING_URI": f"http://127.0.0.1:{PORTS['mlflow']}",
    "FEDPE_STORE_URL": f"file://{HOME}/store",
    "FEDPE_API_URL": f"http://127.0.0.1:{PORTS['api']}/api/v1",
    "FEDPE_SCHEDULER_ADDRESS": f"fedpe://127.0.0.1:{PORTS['scheduler']}",
})
SECRETS = ensure_secrets(Path(HOME))
ensure_federation_tls(Path(HOME))
os.environ.update({**SECRETS.prefect_client_env(), **SECRETS.mlflow_client_env(),
                   **tls_files(Path(HOME)).coordinator.env(), **tls_files(Path(HOME)).crl_env()})
