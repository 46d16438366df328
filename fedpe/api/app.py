"""The FastAPI application."""

from fastapi import APIRouter, FastAPI


def create_app() -> FastAPI:
    app = FastAPI(title="fedpe API", version="0.1.0", docs_url="/docs", openapi_url="/openapi.json")
    router = APIRouter(prefix="/api/v1")

    @router.get("/health/live", tags=["health"])
    def live() -> dict:
        """The API process answers (no dependency checked)."""
        return {"status": "ok"}

    app.include_router(router)
    return app
