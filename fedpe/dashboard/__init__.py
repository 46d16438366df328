"""The fedpe dashboard: server-rendered pages over the API's services, in the API's process.

Pages (one template each) and their live regions (one partial each, swapped by htmx) sit at
`/`, beside the API at `/api/v1` and its docs at `/docs`. Sign-in is a session cookie for the
API's own users (`session.py`); every state-changing request carries a CSRF token. Static files
(htmx, uPlot, the page's own script and style) ship inside this package: no CDN, no build step
(`static/vendor/VERSIONS` says which releases are vendored).
"""

from __future__ import annotations

from fastapi import FastAPI


def install(app: FastAPI) -> None:
    """Serve the dashboard from `app`: its routes, its static files, its error pages."""
    from fastapi.staticfiles import StaticFiles

    from fedpe.dashboard.deps import STATIC
    from fedpe.dashboard.errors import page_error
    from fedpe.dashboard.routes import router

    app.include_router(router)
    app.mount("/static", StaticFiles(directory=str(STATIC)), name="static")
    app.state.page_errors = page_error
