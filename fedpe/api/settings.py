"""What the API process is told by `fedpe up` (environment variables, read once at start)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class ApiSettings:
    home: Path
    scheduler_address: str | None
    store_url: str
    store_options: dict = field(default_factory=dict)
    mlflow_uri: str | None = None
    prefect_api_url: str | None = None
    prefect_ui_url: str | None = None
    deployment_owner: str = "admin"
    token_ttl_s: int = 3600
    session_ttl_s: int = 8 * 3600

    @classmethod
    def from_env(cls) -> "ApiSettings":
        from fedpe.stack.config import default_home

        home = default_home()
        return cls(
            home=home,
            scheduler_address=os.environ.get("FEDPE_SCHEDULER_ADDRESS") or None,
            store_url=os.environ.get("FEDPE_STORE_URL") or f"file://{home / 'store'}",
            store_options=json.loads(os.environ.get("FEDPE_STORE_OPTIONS") or "{}"),
            mlflow_uri=os.environ.get("MLFLOW_TRACKING_URI") or None,
            prefect_api_url=os.environ.get("PREFECT_API_URL") or None,
            prefect_ui_url=os.environ.get("PREFECT_UI_URL") or _ui_of(os.environ.get("PREFECT_API_URL")),
            deployment_owner=os.environ.get("FEDPE_OWNER") or "admin",
            token_ttl_s=int(os.environ.get("FEDPE_TOKEN_TTL_S") or 3600),
            session_ttl_s=int(os.environ.get("FEDPE_SESSION_TTL_S") or 8 * 3600),
        )


def _ui_of(api_url: str | None) -> str | None:
    """The Prefect UI beside a Prefect API (`http://host:4200/api` -> `http://host:4200`)."""
    if not api_url:
        return None
    return api_url.rstrip("/").removesuffix("/api") or None
