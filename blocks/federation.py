"""The federation: where the Dask scheduler is, how to reach it, and which hosts are disabled."""

from __future__ import annotations

from typing import TYPE_CHECKING

from prefect.blocks.core import Block
from pydantic import Field

from blocks.security import tls_security
from fedpe.errors import InvalidArgument

if TYPE_CHECKING:
    import distributed


class Federation(Block):
    """Connection settings of a fedpe federation.

    Disabled hosts live here rather than in the API's database so that runs which bypass the
    API (Prefect UI, schedules, bare `run_deployment`) refuse them too.
    """

    _block_type_name = "fedpe Federation"
    _block_type_slug = "fedpe-federation"
    _description = "Dask scheduler address, optional TLS files and disabled hosts of a fedpe federation."

    scheduler_address: str = Field(description="Address of the Dask scheduler, e.g. fedpe://127.0.0.1:8786.")
    tls_ca_file: str | None = Field(default=None, description="CA certificate for TLS to the scheduler.")
    tls_cert: str | None = Field(default=None, description="Client certificate for TLS.")
    tls_key: str | None = Field(default=None, description="Client key for TLS.")
    disabled_hosts: list[str] = Field(default_factory=list, description="Hosts that get no new work.")
    connect_timeout_s: float = Field(default=10.0, gt=0, description="Bound on connecting to the scheduler.")

    def security(self) -> "distributed.Security | None":
        """The Dask Security object for TLS, or None when the scheduler speaks plain TCP."""
        # The all-or-none rule fedpe.stack.tls.tls_given applies to options and variables; a
        # block cannot import that layer, and the host start path must not import Prefect.
        files = {"tls_ca_file": self.tls_ca_file, "tls_cert": self.tls_cert, "tls_key": self.tls_key}
        if not any(files.values()):
            return None
        missing = [name for name, value in files.items() if not value]
        if missing:
            raise InvalidArgument(f"{', '.join(missing)}: a TLS federation needs tls_ca_file, tls_cert and tls_key",
                                  field=missing[0])
        return tls_security(self.tls_ca_file, self.tls_cert, self.tls_key)

    def client_kwargs(self) -> dict:
        """Keyword arguments for `distributed.Client` that reach this federation."""
        kwargs: dict = {"timeout": f"{self.connect_timeout_s}s"}
        security = self.security()
        if security is not None:
            kwargs["security"] = security
        return kwargs
