"""The dashboard's routes, one module per page; each handler a few lines over fedpe.api.services.

The router checks CSRF on every state-changing request and keeps the pages out of the API's
OpenAPI document.
"""

from fastapi import APIRouter, Depends

from fedpe.dashboard.deps import check_csrf
from fedpe.dashboard.routes import auth, executions, hosts, overview, tools, users

router = APIRouter(include_in_schema=False, dependencies=[Depends(check_csrf)])
for module in (auth, overview, hosts, tools, executions, users):
    router.include_router(module.router)
