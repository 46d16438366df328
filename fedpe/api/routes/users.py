"""Users, for admins: list, add (the API key shown once), revoke, a new key."""

from __future__ import annotations

from fastapi import APIRouter

from fedpe.api.deps import AdminUser, State
from fedpe.api.schemas import NewUser, UserInfo, UserKey
from fedpe.api.services import users as service

router = APIRouter(prefix="/users", tags=["users"])


@router.get("", response_model=list[UserInfo], summary="Admins: every user, active or revoked")
async def list_users(state: State, _: AdminUser):
    return await service.list_users(state.users)


@router.post("", response_model=UserKey, status_code=201, summary="Admins: add a user; its API key is shown once")
async def add_user(state: State, _: AdminUser, body: NewUser):
    return await service.add_user(state.users, body.name, admin=body.admin, password=body.password)


@router.get("/{name}", response_model=UserInfo, summary="Admins: one user")
async def get_user(state: State, _: AdminUser, name: str):
    return await service.get_user(state.users, name)


@router.post("/{name}/revoke", response_model=UserInfo,
             summary="Admins: revoke a user; their keys, tokens and sessions stop working at once")
async def revoke_user(state: State, admin: AdminUser, name: str):
    return await service.revoke_user(state.users, name, admin)


@router.post("/{name}/key", response_model=UserKey,
             summary="Admins: a new API key for a user, shown once; their other keys and tokens stop working")
async def rotate_key(state: State, _: AdminUser, name: str):
    return await service.rotate_key(state.users, name)
