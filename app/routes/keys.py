"""API keys (admin): list them and revoke one. Keys are created with `toolforge keys create`."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter
from pydantic import BaseModel
from sqlalchemy import select

from app.auth import AdminDep, revoke_key
from app.db import SessionDep
from app.errors import NotFound
from app.models import ApiKey

router = APIRouter(prefix="/v1/keys", tags=["keys"])


class KeyPublic(BaseModel):
    """A key's record: never its secret (only its sha256 is stored)."""

    id: str
    name: str
    prefix: str
    scopes: list[str]
    created_at: datetime
    revoked_at: datetime | None = None


class KeysPublic(BaseModel):
    data: list[KeyPublic]
    count: int


def _public(row: ApiKey) -> KeyPublic:
    return KeyPublic(id=row.id, name=row.name, prefix=row.prefix, scopes=row.scopes.split(","),
                     created_at=row.created_at, revoked_at=row.revoked_at)


@router.get("", response_model=KeysPublic)
def list_keys(session: SessionDep, _: AdminDep) -> KeysPublic:
    """List API keys (id, name, prefix, scopes, revocation), oldest first."""
    rows = list(session.scalars(select(ApiKey).order_by(ApiKey.created_at, ApiKey.id)))
    return KeysPublic(data=[_public(r) for r in rows], count=len(rows))


@router.post("/{key}/revoke", response_model=KeyPublic)
def revoke(key: str, session: SessionDep, _: AdminDep) -> KeyPublic:
    """Revoke a key by its id (`key_...`) or prefix (the 12 characters after `tf_`); it stops at once."""
    row = revoke_key(session, key)
    if row is None:
        raise NotFound(f"no API key {key!r}; GET /v1/keys lists them (id or prefix)")
    return _public(row)
