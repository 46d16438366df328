"""Users for admins (GET/POST /users, revoke, a new key), over fedpe.auth's UserStore.

argon2 costs about 150 ms a hash here, so every store call runs in a worker thread.
"""

from __future__ import annotations

from typing import Any

import anyio

from fedpe.auth.users import User, UserStore
from fedpe.errors import Conflict, NotFound


def public(user: User) -> dict[str, Any]:
    """What an admin sees of a user: never a hash."""
    return {"name": user.name, "admin": user.is_admin, "password_set": user.has_password, "active": user.active,
            "created_at": user.created_at, "revoked_at": user.revoked_at}


async def list_users(store: UserStore) -> list[dict[str, Any]]:
    return [public(u) for u in await anyio.to_thread.run_sync(store.list)]


async def get_user(store: UserStore, name: str) -> dict[str, Any]:
    user = await anyio.to_thread.run_sync(store.get, name)
    if user is None:
        raise NotFound(f"no user {name!r}", field="name")
    return public(user)


async def add_user(store: UserStore, name: str, *, admin: bool, password: str | None) -> dict[str, Any]:
    """Create a user; its API key is in the answer, once."""
    user, key = await anyio.to_thread.run_sync(lambda: store.add(name, admin=admin, password=password))
    return {"user": public(user), "api_key": key}


async def revoke_user(store: UserStore, name: str, by: User) -> dict[str, Any]:
    if name == by.name:
        raise Conflict("name: an admin cannot revoke themselves (another admin can)", field="name")
    await get_user(store, name)
    return public(await anyio.to_thread.run_sync(store.revoke, name))


async def rotate_key(store: UserStore, name: str) -> dict[str, Any]:
    """A new API key, shown once; the user's other keys, tokens and sessions stop working."""
    await get_user(store, name)
    user, key = await anyio.to_thread.run_sync(store.issue_key, name)
    return {"user": public(user), "api_key": key}
