"""Errors on the dashboard's pages: the API's errors, as a page a person reads.

401 sends the browser to /login (and back afterwards); other errors show `error.html` with the
status, the code and the message; a fragment (an htmx request) gets the message in the page's
flash region instead of its target.
"""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import RedirectResponse, Response

from fedpe.dashboard.deps import is_htmx, login_url, render
from fedpe.dashboard.session import COOKIE

TITLES = {400: "Bad request", 401: "Sign in", 403: "Not yours", 404: "Not found", 405: "Not allowed",
          409: "Conflict", 422: "Check the input", 500: "Something broke", 503: "A service is down",
          504: "Timed out"}


def page_error(request: Request, status: int, code: str, message: str, details: dict) -> Response:
    if status == 401:
        target = login_url(request)
        response: Response = (Response(status_code=200, headers={"HX-Redirect": target}) if is_htmx(request)
                              else RedirectResponse(target, status_code=303))
        response.delete_cookie(COOKIE, path="/")
        return response
    context = {"status": status, "code": code, "message": message, "details": details,
               "title": TITLES.get(status, "Error")}
    if is_htmx(request):
        return render(request, "_flash.html", {**context, "kind": "error"}, status_code=status,
                      headers={"HX-Retarget": "#flash", "HX-Reswap": "innerHTML"})
    return render(request, "error.html", context, status_code=status)
