"""POST /token (OAuth2 password grant) and GET /me."""

from __future__ import annotations

import json
from urllib.parse import parse_qs

import anyio
from fastapi import APIRouter, Request

from fedpe.api.deps import CurrentUser, State
from fedpe.api.schemas import Me, TokenResponse
from fedpe.auth.tokens import issue_token
from fedpe.errors import InvalidArgument

router = APIRouter(tags=["auth"])

_FORM = {
    "requestBody": {
        "required": True,
        "content": {
            "application/x-www-form-urlencoded": {
                "schema": {
                    "type": "object",
                    "required": ["username", "password"],
                    "properties": {
                        "grant_type": {"type": "string", "enum": ["password"], "default": "password"},
                        "username": {"type": "string"},
                        "password": {"type": "string", "format": "password"},
                        "scope": {"type": "string", "default": ""},
                    },
                }
            }
        },
    }
}


async def _form(request: Request) -> dict[str, str]:
    # Parsed here: FastAPI's Form() needs python-multipart, which the stack does not ship.
    raw = await request.body()
    if "application/json" in request.headers.get("content-type", ""):
        try:
            data = json.loads(raw or b"{}")
        except ValueError:
            raise InvalidArgument("body: not valid JSON", field="body") from None
        if not isinstance(data, dict):
            raise InvalidArgument("body: a JSON object with username and password", field="body")
        return {k: str(v) for k, v in data.items() if isinstance(v, (str, int))}
    try:
        text = raw.decode()
    except UnicodeDecodeError:
        raise InvalidArgument("body: not UTF-8 form data", field="body") from None
    return {k: v[0] for k, v in parse_qs(text, keep_blank_values=True).items()}


@router.post("/token", response_model=TokenResponse, openapi_extra=_FORM,
             summary="Exchange a user name and password for an access token (OAuth2 password grant)")
async def token(request: Request, state: State) -> TokenResponse:
    form = await _form(request)
    grant = form.get("grant_type") or "password"
    if grant != "password":
        raise InvalidArgument("grant_type: only 'password' is supported", field="grant_type")
    for name in ("username", "password"):
        if not form.get(name):
            raise InvalidArgument(f"{name}: required", field=name)
    user = await anyio.to_thread.run_sync(state.users.check_password, form["username"], form["password"])
    access_token, ttl = issue_token(state.settings.home, user.name, ttl_s=state.settings.token_ttl_s)
    return TokenResponse(access_token=access_token, expires_in=ttl)


@router.get("/me", response_model=Me, summary="Who the credentials belong to")
def me(user: CurrentUser) -> Me:
    return Me(name=user.name, is_admin=user.is_admin)
