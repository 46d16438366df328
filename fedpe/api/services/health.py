"""Health of the API's dependencies: Prefect, the Dask scheduler, MLflow and the store."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from typing import Any, Awaitable, Callable

import httpx

from fedpe import __version__

CHECK_TIMEOUT_S = 5.0


async def _timed(check: Callable[[], Awaitable[dict]]) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        detail = await asyncio.wait_for(check(), CHECK_TIMEOUT_S)
        status, error = "connected", None
    except Exception as exc:  # a failed check is a finding, reported as such
        detail, status, error = {}, "unreachable", f"{type(exc).__name__}: {exc}"[:300]
    out = {"status": status, "response_time_ms": round((time.perf_counter() - started) * 1000, 1),
           "last_check": dt.datetime.now(dt.timezone.utc).isoformat(), **detail}
    if error:
        out["error"] = error
    return out


async def _mlflow(uri: str | None) -> dict:
    if not uri:
        raise RuntimeError("MLFLOW_TRACKING_URI is not set")
    async with httpx.AsyncClient(timeout=CHECK_TIMEOUT_S) as client:
        response = await client.get(f"{uri.rstrip('/')}/health")
        response.raise_for_status()
        version = await client.get(f"{uri.rstrip('/')}/version")
    return {"url": uri, "version": version.text.strip() if version.status_code == 200 else None}


async def dependencies(state) -> dict[str, dict]:
    checks = {
        "prefect": state.orchestrator.ping,
        "scheduler": state.scheduler.ping,
        "mlflow": lambda: _mlflow(state.settings.mlflow_uri),
        "store": state.outputs.ping,
    }
    results = await asyncio.gather(*(_timed(c) for c in checks.values()))
    return dict(zip(checks, results))


async def health(state) -> dict[str, Any]:
    deps = await dependencies(state)
    services = {name: {"status": "healthy" if d["status"] == "connected" else "down",
                       "response_time_ms": d["response_time_ms"], "last_check": d["last_check"],
                       **({"issues": [d["error"]]} if "error" in d else {})} for name, d in deps.items()}
    uptime = time.monotonic() - state.started
    return {
        "status": "healthy" if all(s["status"] == "healthy" for s in services.values()) else "degraded",
        "version": __version__,
        "uptime_s": round(uptime, 1),
        "uptime": str(dt.timedelta(seconds=int(uptime))),
        "services": services,
    }
