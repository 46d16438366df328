"""The one place a fedpe client's Dask Security is built (no Prefect import).

`Federation.security()` uses it for the flows; `fedpe.stack.tls.client_security` for the
launcher, the CLI, the API and a host's checks before it joins. It lives apart from the block
so that those callers do not import Prefect for it (0.75-0.84 s of CPU on a quiet machine, paid
by the launcher in every `fedpe up` and by a host's `fedpe host start` for its checks).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import distributed


def tls_security(ca_file: str | os.PathLike, cert: str | os.PathLike, key: str | os.PathLike) -> "distributed.Security":
    """Mutual TLS, plain TCP refused. Peers are checked against the CA's CRL where one lies
    beside the CA's certificate (`crl.pem`, the coordinator's case; tasks/wire/revocation.py
    reads the `fedpe_crl` connection argument)."""
    from distributed import Security

    return Security(
        tls_ca_file=os.fspath(ca_file),
        tls_client_cert=os.fspath(cert),
        tls_client_key=os.fspath(key),
        require_encryption=True,
        extra_conn_args={"fedpe_crl": os.fspath(Path(ca_file).with_name("crl.pem"))},
    )
