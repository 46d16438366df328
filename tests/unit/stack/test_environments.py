"""What the coordinator's processes (runner, flow runs, API) get in their environment."""

from __future__ import annotations

import json
import subprocess
import sys

from fedpe.stack.config import StackConfig
from fedpe.stack.environments import coordinator
from fedpe.stack.secrets import ensure_secrets
from fedpe.stack.tls import ensure_federation_tls

PREFECT_CLIENT_TRUST = """
import json
from prefect.client.orchestration import get_client
client = get_client()
context = client._client._transport._pool._ssl_context
print(json.dumps({"api": client.api_url.scheme, "trusted": context.cert_store_stats()["x509_ca"]}))
"""


def test_the_coordinators_prefect_clients_trust_the_federation_ca_alone(tmp_path):
    """A Prefect client loads its CA file at every start (a system bundle took 18 ms, and a flow
    run starts seven): the coordinator's trust the one CA certificate, over plain HTTP anyway."""
    config = StackConfig(home=tmp_path / "home")
    ensure_federation_tls(config.home)
    env = coordinator(config, ensure_secrets(config.home))

    out = subprocess.run([sys.executable, "-c", PREFECT_CLIENT_TRUST], env=env, capture_output=True, text=True)

    assert out.returncode == 0, out.stderr[-2000:]
    assert json.loads(out.stdout) == {"api": "http", "trusted": 1}
