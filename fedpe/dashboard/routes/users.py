"""Users (/users, admins only): list, add (the API key shown once), revoke, a new key."""

from __future__ import annotations

from fastapi import APIRouter, Request

from fedpe.api.deps import State
from fedpe.api.services import users as service
from fedpe.dashboard.deps import AdminPage, Form, first, render
from fedpe.errors import Conflict, InvalidArgument

router = APIRouter()


async def _table(state, **extra) -> dict:
    return {"users": await service.list_users(state.users), **extra}


@router.get("/users")
async def users_page(request: Request, state: State, _: AdminPage):
    return render(request, "users.html", await _table(state))


@router.post("/users")
async def add(request: Request, state: State, _: AdminPage, values: Form):
    password = first(values, "password") or None
    try:
        added = await service.add_user(state.users, first(values, "name").strip(),
                                       admin=first(values, "admin") == "on", password=password)
    except (InvalidArgument, Conflict) as exc:  # shown beside the form, the table unchanged
        return render(request, "_users_table.html", await _table(state, problem=exc), status_code=exc.status_code)
    return render(request, "_users_table.html", await _table(state, new_key=added))


@router.post("/users/{name}/revoke")
async def revoke(request: Request, state: State, admin: AdminPage, name: str):
    await service.revoke_user(state.users, name, admin)
    return render(request, "_users_table.html", await _table(state, flash=f"user {name} revoked"))


@router.post("/users/{name}/key")
async def rotate(request: Request, state: State, _: AdminPage, name: str):
    return render(request, "_users_table.html", await _table(state, new_key=await service.rotate_key(state.users, name)))
