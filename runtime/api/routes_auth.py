"""Session sign-in for the browser and for scripts: a signed, HttpOnly, SameSite cookie."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from runtime.api.deps import Unauthenticated, current_user, json_object, tessera

router = APIRouter(prefix="/api/v1/auth", tags=["auth"])


@router.post("/login")
async def login(request: Request) -> dict[str, Any]:
    body = await json_object(request)
    username, password = body.get("username"), body.get("password")
    if not isinstance(username, str) or not isinstance(password, str):
        raise Unauthenticated("send username and password")
    user = tessera(request).users.authenticate(username[:64], password[:256])
    if user is None:
        raise Unauthenticated("wrong username or password")
    request.session.clear()
    request.session["user_id"] = user.id
    return {"id": user.id, "username": user.username, "display_name": user.display_name}


@router.post("/logout")
def logout(request: Request) -> dict[str, bool]:
    request.session.clear()
    return {"ok": True}


@router.get("/me")
def me(request: Request) -> dict[str, Any]:
    user = current_user(request)
    return {"id": user.id, "username": user.username, "display_name": user.display_name, "is_admin": user.is_admin}
